"""Europe PMC open-access full text (JATS): parsing real PMC OA files, pulling by section, degrading to abstracts."""

from __future__ import annotations

import pytest

from mcp_servers.literature.errors import MalformedResponse
from mcp_servers.literature.jats import parse_jats
from mcp_servers.literature.library import article_to_record, ingest_pubmed
from mcp_servers.literature.pubmed import parse_pubmed_xml
from tests.fixtures.literature import LIT_DATA, MemoryKB, Reply

JATS = LIT_DATA / "jats"
RVF = (JATS / "pntd.0002065.nxml").read_bytes()
PHAGE = (JATS / "1471-2180-11-174.nxml").read_bytes()
PMCID_OF_RECORDED = "PMC5442267"  # the PMCID of the recorded PubMed record 27797938 (efetch_structured_abstract.xml)


def test_parse_real_jats_rift_valley_fever():
    a = parse_jats(RVF)
    assert (a.pmid, a.pmcid, a.doi, a.year) == ("23469300", "PMC3585041", "10.1371/journal.pntd.0002065", 2013)
    assert a.title.startswith("Serological Evidence of Rift Valley Fever Virus Circulation in Sheep and Goats")
    assert a.journal == "PLoS Neglected Tropical Diseases" and a.authors[0] == "José Fafetine"
    assert "Creative Commons Attribution License" in a.license
    sections = [s["section"] for s in a.sections if s["kind"] == "body"]
    assert sections[0] == "Abstract" and "Introduction" in sections
    assert any(s.startswith("Materials and Methods: ") for s in sections) and any(s.startswith("Results") for s in sections)
    caps = [s for s in a.sections if s["kind"] == "caption"]
    assert any(c["section"] == "Table 1" and "RVF seroprevalence in 2007" in c["text"] for c in caps)
    [table1] = [s for s in a.sections if s["kind"] == "table" and s["section"] == "Table 1"]
    assert table1["text"].splitlines()[0] == "District | Goats | Sheep"
    [refs] = [s for s in a.sections if s["kind"] == "reference"]
    assert refs["text"].startswith("1. Murphy FA, Gibbs EPJ") and len(refs["text"].split("\n\n")) > 20
    assert a.has_body


def test_parse_real_jats_bmc_element_citations():
    a = parse_jats(PHAGE)
    assert a.pmid == "21810267" and a.doi == "10.1186/1471-2180-11-174" and a.journal == "BMC Microbiology"
    assert a.license == "http://creativecommons.org/licenses/by/2.0"
    body = {s["section"] for s in a.sections if s["kind"] == "body"}
    assert {"Abstract", "Background", "Discussion"} <= body
    [refs] = [s for s in a.sections if s["kind"] == "reference"]
    assert refs["text"].startswith("1. Avery SV Microbial cell individuality")  # element-citation parts spaced


def test_not_jats_is_malformed():
    with pytest.raises(MalformedResponse, match="not a JATS article"):
        parse_jats(b"<html><body>Service unavailable</body></html>")
    with pytest.raises(MalformedResponse, match="empty"):
        parse_jats(b"  ")


def test_full_text_record_keeps_ids_and_sections():
    [article] = parse_pubmed_xml((LIT_DATA / "efetch_structured_abstract.xml").read_bytes())
    rec = article_to_record(article, parse_jats(RVF))
    assert rec.id == "pmid:27797938" and rec.pmid == "27797938" and rec.metadata["full_text"] is True
    assert {s.kind for s in rec.sections} == {"body", "caption", "table", "reference"}
    assert article_to_record(article).sections is None  # the abstract path is unchanged


def test_pull_with_full_text_over_http(lit_settings, fake_literature):
    # a real PMC OA file is served for the recorded record's PMCID; the other PMCIDs answer 404 like Europe PMC
    fake_literature.full_texts[PMCID_OF_RECORDED] = RVF
    kb = MemoryKB()
    report = ingest_pubmed("telomere", max_results=50, settings=lit_settings, kb=kb, full_text=True)
    assert report.full_text == ["27797938"]
    full = kb.docs["pmid:27797938"]
    assert full.sections and any(s.section == "Introduction" for s in full.sections)
    asked = sorted(r.path.split("/")[-2] for r in fake_literature.hits("/fullTextXML"))
    with_pmcid = sorted(a.pmcid for a in parse_pubmed_xml(
        b"".join((LIT_DATA / f).read_bytes() for f in ["efetch_structured_abstract.xml"])) if a.pmcid)
    assert PMCID_OF_RECORDED in asked and set(with_pmcid) <= set(asked)
    others = [r for pid, r in kb.docs.items() if pid != "pmid:27797938"]
    assert others and all(r.sections is None for r in others)  # no full text: the abstract is kept
    assert "with full text 1" in report.summary()
    again = ingest_pubmed("telomere", max_results=50, settings=lit_settings, kb=kb, full_text=True)
    assert again.added == [] and again.full_text == []  # idempotent by PMID


def test_pull_without_full_text_flag_fetches_none(lit_settings, fake_literature):
    fake_literature.full_texts[PMCID_OF_RECORDED] = RVF
    kb = MemoryKB()
    ingest_pubmed("telomere", max_results=50, settings=lit_settings, kb=kb)
    assert fake_literature.hits("/fullTextXML") == [] and kb.docs["pmid:27797938"].sections is None


def test_full_text_failure_degrades_to_abstract(lit_settings, fake_literature):
    path = f"/europepmc/{PMCID_OF_RECORDED}/fullTextXML"
    fake_literature.script(path, *[Reply(503, "busy")] * 10)
    kb = MemoryKB()
    report = ingest_pubmed(pmids=["27797938"], settings=lit_settings, kb=kb, full_text=True)
    assert report.added == ["27797938"] and report.full_text == []
    assert kb.docs["pmid:27797938"].sections is None
    assert any("PMID 27797938" in w and "abstract kept" in w for w in report.warnings)


def test_full_text_chunks_in_a_real_knowledge_base(kb_factory):
    from agent.kb.models import SearchFilters

    [article] = parse_pubmed_xml((LIT_DATA / "efetch_structured_abstract.xml").read_bytes())
    rec = article_to_record(article, parse_jats(RVF))
    kb = kb_factory(records=[rec], embedding={"multilingual": False})
    hits = kb.search("Rift Valley fever seroprevalence in goats and sheep in Zambezia", k=5)
    assert hits and all(h.chunk_kind != "reference" for h in hits)
    assert any(h.chunk_kind in ("table", "caption") or (h.section or "").startswith("Results") for h in hits)
    refs = kb.search("Murphy Gibbs Horzinek Studdert Veterinary Virology", k=20,
                     filters=SearchFilters(include_references=True))
    assert any(h.chunk_kind == "reference" and "Murphy FA" in h.text for h in refs)
    assert kb.ingest_records([rec]).unchanged_docs == ["pmid:27797938"]
