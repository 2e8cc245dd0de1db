"""ingest_pubmed (idempotent by PMID) and library search over a library ingested in the test."""

from __future__ import annotations

import socket

import pytest

from mcp_servers.literature.errors import LiteratureInputError, RemoteUnavailable
from mcp_servers.literature.library import article_to_record, hit_to_dict, ingest_pubmed, search_library
from mcp_servers.literature.pubmed import PubMedClient, parse_pubmed_xml
from tests.fixtures.literature import LIT_DATA, MemoryKB

EFETCH = "/eutils/efetch.fcgi"


def test_record_shape():
    [article] = parse_pubmed_xml((LIT_DATA / "efetch_structured_abstract.xml").read_bytes())
    rec = article_to_record(article)
    assert rec.id == "pmid:27797938" and rec.pmid == "27797938" and rec.source == "pubmed"
    assert rec.text == article.abstract and rec.text.startswith("OBJECTIVE: ")
    assert rec.year == 2017 and rec.doi == "10.1136/gutjnl-2016-312510"
    assert rec.url == "https://pubmed.ncbi.nlm.nih.gov/27797938/"
    assert rec.metadata["journal"] == "Gut" and rec.metadata["authors"][0] == "Ying Bao"
    assert "Pancreatic Neoplasms" in rec.metadata["mesh"]
    no_abstract = parse_pubmed_xml((LIT_DATA / "efetch_pubmed1.xml").read_bytes())[0]
    assert article_to_record(no_abstract).text == no_abstract.title  # still a valid, findable document


def test_pull_is_idempotent_by_pmid(lit_settings, fake_literature):
    kb = MemoryKB(existing=["pmid:9997"])
    all_pmids = list(fake_literature.records)
    report = ingest_pubmed("telomere", max_results=50, settings=lit_settings, kb=kb)
    assert report.search_count == len(all_pmids) and report.requested == all_pmids
    assert report.skipped_existing == ["9997"]
    assert sorted(report.added) == sorted(p for p in all_pmids if p != "9997")
    assert report.without_abstract == ["12091962"]
    assert "9997" not in fake_literature.hits(EFETCH)[0].params["id"].split(","), "known PMIDs are not fetched"
    again = ingest_pubmed("telomere", max_results=50, settings=lit_settings, kb=kb)
    assert again.added == [] and sorted(again.skipped_existing) == sorted(all_pmids)
    assert len(fake_literature.hits(EFETCH)) == 1, "a second pull of the same query fetches nothing"
    assert "added 0, already in library 7" in again.summary()


def test_pull_by_pmids_counts_unknown_ones(lit_settings, fake_literature):
    kb = MemoryKB()
    report = ingest_pubmed(pmids=["27797938", "PMID: 11748933", "88888888"], settings=lit_settings, kb=kb)
    assert report.added == ["27797938", "11748933"] and report.not_found == ["88888888"]
    assert report.search_count is None and not fake_literature.hits("/esearch.fcgi")
    with pytest.raises(LiteratureInputError):
        ingest_pubmed(settings=lit_settings, kb=kb)
    with pytest.raises(LiteratureInputError):
        ingest_pubmed(pmids=["not-a-pmid"], settings=lit_settings, kb=kb)


def test_pull_offline_raises_before_touching_the_library(lit_settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = lit_settings.model_copy(update={"literature": lit_settings.literature.model_copy(
        update={"eutils_url": f"http://127.0.0.1:{port}/eutils"})})
    kb = MemoryKB()
    with pytest.raises(RemoteUnavailable, match="^PubMed unreachable: "):
        ingest_pubmed("circovirus", settings=settings, kb=kb)
    assert kb.batches == []


# ------------------------------------------------------------------------------------- with the real library
@pytest.fixture
def pubmed_library(lit_settings, fake_literature):
    """The real knowledge base in this test's data dir, holding the recorded PubMed records."""
    from agent.kb.service import get_knowledge_base

    kb = get_knowledge_base(lit_settings)
    report = ingest_pubmed("recorded records", max_results=50, settings=lit_settings, kb=kb)
    assert sorted(report.added) == sorted(fake_literature.records), report
    yield kb
    kb.close()


def test_library_search_over_ingested_pubmed_records(lit_settings, pubmed_library, fake_literature):
    hits = search_library("leucocyte telomere length and pancreatic cancer risk", k=3, kb=pubmed_library)
    assert hits and hits[0].pmid == "27797938" and hits[0].doc_id == "pmid:27797938"
    top = hit_to_dict(hits[0], 1)
    assert top["rank"] == 1 and top["source"] == "pubmed" and top["year"] == 2017
    assert top["doi"] == "10.1136/gutjnl-2016-312510" and top["title"].startswith("Leucocyte telomere")
    assert top["score"] > 0 and top["scores"] and "doi:10.1136/gutjnl-2016-312510" in top["citation"]

    old = search_library("leucocyte telomere length and pancreatic cancer risk", k=5, year_max=2001,
                         kb=pubmed_library)
    assert old and all(h.year is not None and h.year <= 2001 for h in old)
    assert search_library("telomere", k=5, source="file", kb=pubmed_library) == []
    cryo = search_library("sperm cryopreservation motility", k=2, source="pubmed", year_min=2000,
                          kb=pubmed_library)
    assert cryo[0].pmid == "11748933"

    # idempotent against the real library too: nothing is fetched or written again
    n_fetch = len(fake_literature.hits(EFETCH))
    again = ingest_pubmed("recorded records", max_results=50, settings=lit_settings, kb=pubmed_library)
    assert again.added == [] and len(again.skipped_existing) == len(fake_literature.records)
    assert len(fake_literature.hits(EFETCH)) == n_fetch

    # no network: the remote fails fast, the library keeps answering
    dead = lit_settings.model_copy(update={"literature": lit_settings.literature.model_copy(
        update={"eutils_url": "http://no-such-host.invalid/eutils"})})
    with PubMedClient(dead) as client, pytest.raises(RemoteUnavailable):
        client.esearch("telomere")
    hits = search_library("telomere length", k=2, settings=dead, kb=pubmed_library)
    assert hits and hits[0].pmid == "27797938"


def test_library_search_input_errors(lit_settings):
    kb = MemoryKB()
    with pytest.raises(LiteratureInputError):
        search_library("  ", kb=kb)
    with pytest.raises(LiteratureInputError):
        search_library("x", year_min=2020, year_max=2000, kb=kb)
