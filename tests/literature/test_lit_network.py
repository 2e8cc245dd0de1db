"""Live checks against NCBI E-utilities and Europe PMC. Marked `network`; skipped at once when offline."""

from __future__ import annotations

import functools
import socket

import pytest

pytestmark = pytest.mark.network

EUTILS_HOST = "eutils.ncbi.nlm.nih.gov"
EUROPEPMC_HOST = "www.ebi.ac.uk"


@functools.cache
def _reachable(host: str) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=3):
            return True
    except OSError:
        return False


def _need(host: str) -> None:
    if not _reachable(host):
        pytest.skip(f"offline: {host} is not reachable")


@pytest.fixture
def live_settings(settings):
    lit = settings.literature.model_copy(update={"cache_ttl_s": 0, "timeout_s": 30})
    return settings.model_copy(update={"literature": lit})


def test_live_pubmed_search_and_fetch(live_settings):
    _need(EUTILS_HOST)
    from mcp_servers.literature.pubmed import PubMedClient

    with PubMedClient(live_settings) as client:
        result = client.search("circovirus Rep protein", max_results=3, mindate="2000")
        assert result.count > 0 and 1 <= len(result.articles) <= 3
        assert all(a.pmid.isdigit() and a.title for a in result.articles)
        [known] = client.efetch(["27797938"])  # the record also used as a recorded fixture
    assert known.title.startswith("Leucocyte telomere length") and known.doi == "10.1136/gutjnl-2016-312510"
    assert known.abstract.startswith("OBJECTIVE:")


def test_live_europepmc_search(live_settings):
    _need(EUROPEPMC_HOST)
    from mcp_servers.literature.europepmc import EuropePMCClient

    with EuropePMCClient(live_settings) as client:
        result = client.search("circovirus Rep", max_results=5, open_access_only=True)
    assert result.hit_count > 0 and result.articles
    assert all(a.is_open_access for a in result.articles)
    assert any(a.open_access_links for a in result.articles)
