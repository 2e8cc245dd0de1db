"""The remote clients against a real local HTTP server (127.0.0.1): retries, 429 + Retry-After, 5xx, timeouts,
no network, malformed answers, the response cache, NCBI identification and the rate limiter."""

from __future__ import annotations

import socket
import time

import pytest

from mcp_servers.literature.errors import (
    MalformedResponse,
    RateLimited,
    RemoteHTTPError,
    RemoteUnavailable,
)
from mcp_servers.literature.europepmc import EuropePMCClient
from mcp_servers.literature.http import RateLimiter, parse_retry_after
from mcp_servers.literature.pubmed import PubMedClient
from tests.fixtures.literature import Reply

ESEARCH = "/eutils/esearch.fcgi"
EFETCH = "/eutils/efetch.fcgi"
EPMC = "/europepmc/search"


def _settings(lit_settings, **literature):
    return lit_settings.model_copy(update={"literature": lit_settings.literature.model_copy(update=literature)})


def test_search_fetches_real_records_and_identifies_to_ncbi(lit_settings, fake_literature):
    with PubMedClient(lit_settings) as client:
        result = client.search("telomere pancreatic cancer", max_results=3, mindate="2015", sort="pub_date")
    assert result.count == len(fake_literature.records)
    assert [a.pmid for a in result.articles] == list(fake_literature.records)[:3]
    assert result.articles[0].title.startswith("Leucocyte telomere length")
    search = fake_literature.hits(ESEARCH)[0].params
    assert search["term"] == "telomere pancreatic cancer" and search["retmax"] == "3"
    assert search["sort"] == "pub_date" and search["db"] == "pubmed"
    assert (search["datetype"], search["mindate"], search["maxdate"]) == ("pdat", "2015", "3000")
    fetch = fake_literature.hits(EFETCH)[0]
    assert fetch.params["id"] == ",".join(list(fake_literature.records)[:3])
    for seen in (search, fetch.params):
        assert seen["tool"] == "bioagent" and seen["email"] == "tester@example.org"
        assert "api_key" not in seen
    assert "bioagent" in fetch.headers["user-agent"]


def test_api_key_is_sent_but_kept_out_of_the_cache_key(lit_settings, fake_literature):
    from pydantic import SecretStr

    settings = _settings(lit_settings, ncbi_api_key=SecretStr("k-123"))
    with PubMedClient(settings) as client:
        client.esearch("rep protein", 2)
    assert fake_literature.hits(ESEARCH)[0].params["api_key"] == "k-123"
    with PubMedClient(lit_settings) as client:  # same query without the key: served from the cache
        client.esearch("rep protein", 2)
    assert len(fake_literature.hits(ESEARCH)) == 1
    cached = list((lit_settings.cache_dir / "literature").rglob("*.sqlite*"))
    assert cached and all(b"k-123" not in p.read_bytes() for p in cached)


def test_503_then_success_is_retried(lit_settings, fake_literature):
    fake_literature.script(ESEARCH, Reply(503, "busy"), Reply(502, "bad gateway"))
    with PubMedClient(lit_settings) as client:
        result = client.esearch("circovirus", 5)
    assert result.pmids and len(fake_literature.hits(ESEARCH)) == 3


def test_429_honours_retry_after(lit_settings, fake_literature):
    fake_literature.script(ESEARCH, Reply(429, '{"error":"API rate limit exceeded"}', {"Retry-After": "1"}))
    t0 = time.monotonic()
    with PubMedClient(lit_settings) as client:
        client.esearch("circovirus", 5)
    first, second = fake_literature.hits(ESEARCH)
    assert second.time - first.time >= 0.95, "the client must wait as long as Retry-After says"
    assert time.monotonic() - t0 < 5


def test_429_asking_for_too_long_a_wait_fails_at_once(lit_settings, fake_literature):
    fake_literature.script(ESEARCH, Reply(429, "slow down", {"Retry-After": "3600"}))
    t0 = time.monotonic()
    with PubMedClient(lit_settings) as client, pytest.raises(RateLimited) as info:
        client.esearch("circovirus", 5)
    assert time.monotonic() - t0 < 2
    assert len(fake_literature.hits(ESEARCH)) == 1
    assert info.value.retry_after == 3600 and "3600" in str(info.value)


def test_persistent_429_gives_up_after_the_retries(lit_settings, fake_literature):
    settings = _settings(lit_settings, retries=2)
    fake_literature.script(ESEARCH, *[Reply(429, "no", {"Retry-After": "0"})] * 5)
    with PubMedClient(settings) as client, pytest.raises(RateLimited) as info:
        client.esearch("circovirus", 5)
    assert len(fake_literature.hits(ESEARCH)) == 3 and info.value.attempts == 3
    assert str(info.value).startswith("PubMed answered HTTP 429 after 3 attempts")


def test_persistent_5xx_is_a_clear_error_with_backoff(lit_settings, fake_literature):
    settings = _settings(lit_settings, retries=3, backoff_s=0.1)
    fake_literature.script(EFETCH, *[Reply(500, "internal")] * 6)
    with PubMedClient(settings) as client, pytest.raises(RemoteHTTPError) as info:
        client.efetch(["27797938"])
    times = [r.time for r in fake_literature.hits(EFETCH)]
    assert len(times) == 4 and info.value.status == 500 and info.value.attempts == 4
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.39, gaps  # exponential: 0.1, 0.2, 0.4 s


def test_4xx_is_not_retried(lit_settings, fake_literature):
    fake_literature.script(ESEARCH, Reply(400, "Invalid term"))
    with PubMedClient(lit_settings) as client, pytest.raises(RemoteHTTPError) as info:
        client.esearch("(((", 5)
    assert len(fake_literature.hits(ESEARCH)) == 1
    assert info.value.status == 400 and "Invalid term" in str(info.value)


def test_read_timeout_is_retried_then_reported(lit_settings, fake_literature):
    settings = _settings(lit_settings, timeout_s=0.3, retries=1)
    fake_literature.script(ESEARCH, Reply(200, "late", delay=1.0), Reply(200, "late", delay=1.0))
    t0 = time.monotonic()
    with PubMedClient(settings) as client, pytest.raises(RemoteUnavailable) as info:
        client.esearch("circovirus", 5)
    assert time.monotonic() - t0 < 3
    assert len(fake_literature.hits(ESEARCH)) == 2
    assert str(info.value).startswith("PubMed unreachable: no answer within 0.3s")


def test_timeout_then_success(lit_settings, fake_literature):
    settings = _settings(lit_settings, timeout_s=0.3)
    fake_literature.script(ESEARCH, Reply(200, "late", delay=1.0))
    with PubMedClient(settings) as client:
        assert client.esearch("circovirus", 5).pmids


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_network_fails_fast_with_a_clear_message(lit_settings):
    port = _closed_port()
    settings = _settings(lit_settings, eutils_url=f"http://127.0.0.1:{port}/eutils",
                         europepmc_url=f"http://127.0.0.1:{port}/rest", retries=5, backoff_s=1.0)
    t0 = time.monotonic()
    with PubMedClient(settings) as client, pytest.raises(RemoteUnavailable) as info:
        client.search("circovirus")
    assert str(info.value).startswith("PubMed unreachable: ")
    with EuropePMCClient(settings) as client, pytest.raises(RemoteUnavailable) as info:
        client.search("circovirus")
    assert str(info.value).startswith("Europe PMC unreachable: ")
    assert time.monotonic() - t0 < 2, "an unreachable host must not be retried with backoff"


def test_unresolvable_host_fails_fast(lit_settings):
    settings = _settings(lit_settings, eutils_url="http://no-such-host.invalid/eutils")
    t0 = time.monotonic()
    with PubMedClient(settings) as client, pytest.raises(RemoteUnavailable, match="^PubMed unreachable: "):
        client.esearch("circovirus")
    assert time.monotonic() - t0 < 5


def test_malformed_answer_is_an_error_and_never_cached(lit_settings, fake_literature):
    fake_literature.script(EFETCH, Reply(200, "<PubmedArticleSet><PubmedArticle><MedlineCitation>"))
    with PubMedClient(lit_settings) as client:
        with pytest.raises(MalformedResponse, match="^PubMed returned a malformed response: invalid XML"):
            client.efetch(["27797938"])
        [article] = client.efetch(["27797938"])  # the next call asks again and gets the real record
    assert article.pmid == "27797938" and len(fake_literature.hits(EFETCH)) == 2


def test_cache_serves_repeats_until_the_ttl(lit_settings, fake_literature):
    with PubMedClient(lit_settings) as client:
        client.efetch(["27797938", "9997"])
        client.efetch(["27797938", "9997"])  # fresh hit
    assert len(fake_literature.hits(EFETCH)) == 1
    with PubMedClient(_settings(lit_settings, cache_ttl_s=0)) as client:  # 0 turns the cache off
        client.efetch(["27797938", "9997"])
    assert len(fake_literature.hits(EFETCH)) == 2
    expired = _settings(lit_settings, cache_ttl_s=1)
    time.sleep(1.2)
    with PubMedClient(expired) as client:  # expired and the network is up: asked again, never served stale
        client.efetch(["27797938", "9997"])
        assert client.http.served_stale == 0
    assert len(fake_literature.hits(EFETCH)) == 3


def test_expired_entries_are_served_when_the_service_fails(lit_settings, fake_literature, caplog):
    """Serve-stale-on-error: an expired entry answers when the service keeps failing (5xx after the retries)
    or cannot be reached at all, with a one-line note; without a cached answer the error stands."""
    settings = _settings(lit_settings, cache_ttl_s=1, retries=1, backoff_s=0.01)
    with PubMedClient(settings) as client:
        fresh = client.efetch(["27797938"])
    time.sleep(1.2)
    fake_literature.script(EFETCH, *[Reply(503, "down for maintenance")] * 2)
    with PubMedClient(settings) as client, caplog.at_level("WARNING"):
        stale = client.efetch(["27797938"])
        assert client.http.served_stale == 1
    assert [a.pmid for a in stale] == [a.pmid for a in fresh] and len(fake_literature.hits(EFETCH)) == 3
    assert any("served from cache (offline)" in r.getMessage() and "HTTP 503" in r.getMessage() for r in caplog.records)
    fake_literature.stop()  # now the host refuses connections
    with PubMedClient(settings) as client:
        assert [a.pmid for a in client.efetch(["27797938"])] == ["27797938"] and client.http.served_stale == 1
        with pytest.raises(RemoteUnavailable):
            client.efetch(["9997"])  # never cached: the error
    with PubMedClient(_settings(settings, cache_stale_s=0)) as client:  # expired entries not kept: no answer
        time.sleep(0.1)
        with pytest.raises(RemoteUnavailable):
            client.efetch(["27797938"])


def test_efetch_keeps_order_and_skips_unknown(lit_settings, fake_literature):
    with PubMedClient(lit_settings) as client:
        articles = client.efetch(["9997", "PMID:27797938", "99999999", "9997"])
    assert [a.pmid for a in articles] == ["9997", "27797938"]
    assert fake_literature.hits(EFETCH)[0].params["id"] == "9997,27797938,99999999"


def test_rate_limit_spaces_requests(lit_settings, fake_literature):
    settings = _settings(lit_settings, ncbi_requests_per_s=5.0, cache_ttl_s=0)
    with PubMedClient(settings) as client:
        for i in range(4):
            client.esearch(f"q{i}", 1)
    times = [r.time for r in fake_literature.hits(ESEARCH)]
    assert times[-1] - times[0] >= 3 * 0.2 - 0.05


def test_default_ncbi_rates():
    from agent.settings import Settings
    from pydantic import SecretStr

    plain = Settings()
    plain.literature.ncbi_requests_per_s = None
    assert PubMedClient(plain).http.limiter.rate == 3.0
    keyed = plain.model_copy(update={"literature": plain.literature.model_copy(
        update={"ncbi_api_key": SecretStr("x")})})
    assert PubMedClient(keyed).http.limiter.rate == 10.0


def test_rate_limiter_unit():
    lim = RateLimiter(20.0)
    t0 = time.monotonic()
    for _ in range(5):
        lim.acquire()
    assert time.monotonic() - t0 >= 4 * 0.05 - 0.01


def test_retry_after_parsing():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    from email.utils import formatdate

    assert 5 < parse_retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10.5


def test_europepmc_query_parameters(lit_settings, fake_literature):
    with EuropePMCClient(lit_settings) as client:
        result = client.search("circovirus Rep", 3, open_access_only=True, year_min=2010, sort="cited")
    assert result.hit_count == 5059039 and len(result.articles) == 3
    params = fake_literature.hits(EPMC)[0].params
    assert params["query"] == "(circovirus Rep) AND OPEN_ACCESS:y AND PUB_YEAR:[2010 TO 3000]"
    assert params["resultType"] == "core" and params["format"] == "json" and params["pageSize"] == "3"
    assert params["sort"] == "CITED desc" and params["email"] == "tester@example.org"


def test_europepmc_retries_and_malformed(lit_settings, fake_literature):
    fake_literature.script(EPMC, Reply(503, "maintenance"), Reply(200, "<html>oops</html>"))
    with EuropePMCClient(lit_settings) as client:
        with pytest.raises(MalformedResponse, match="^Europe PMC returned a malformed response"):
            client.search("circovirus")
        assert client.search("circovirus").articles
    assert len(fake_literature.hits(EPMC)) == 3


def test_input_validation(lit_settings):
    from mcp_servers.literature.errors import LiteratureInputError

    with PubMedClient(lit_settings) as client:
        for kwargs in ({"query": " "}, {"query": "x", "max_results": -1}, {"query": "x", "mindate": "yesterday"}):
            with pytest.raises(LiteratureInputError):
                client.esearch(**kwargs)
    with EuropePMCClient(lit_settings) as client, pytest.raises(LiteratureInputError):
        client.search("x", max_results=5000)
