"""The seed pipeline on a genome: nucleotide input -> annotate_genome -> Rep -> motifs, properties, ESM-2 scan ->
literature -> report, through the real sequence MCP server over stdio (tiny random ESM-2 checkpoint)."""

from __future__ import annotations

import json

import pytest

from agent.runner import AgentService
from tests.fixtures.agent import FakeKnowledgeBase, ScriptedChatModel
from tests.fixtures.sequence import SEQ_DATA

pytestmark = pytest.mark.anyio
GENOMES = SEQ_DATA / "genomes"


@pytest.fixture
def mcp_settings(agent_settings, tiny_esm_checkpoint):
    seq = agent_settings.sequence.model_copy(update={"esm_model": str(tiny_esm_checkpoint), "esm_device": "cpu"})
    return agent_settings.model_copy(update={"sequence": seq})


async def test_genome_report_in_chinese(mcp_settings):
    svc = AgentService(mcp_settings, chat_model=ScriptedChatModel(), knowledge_base=FakeKnowledgeBase())
    try:
        zh = await svc.report((GENOMES / "NC_005148.1.fna").read_text(), lang="zh")
        with pytest.raises(ValueError, match="at least 100 nt"):
            await svc.report(">short\nATGCGTACGTAGCTAGCTAGCTAGCATCGATCGATCGA")
    finally:
        await svc.aclose()
    md, data = zh["markdown"], zh["data"]
    names = [t["name"] for t in data["tool_results"]]
    assert names == ["annotate_genome", "annotate_rep", "protein_properties", "mutational_scan"]
    assert all(t["ok"] for t in data["tool_results"]), [t["error"] for t in data["tool_results"]]
    assert data["sequence"]["id"] == "NC_005148.1_Rep" and data["sequence"]["length"] == 314
    assert data["genome"]["origin"]["nonanucleotide"] == "AAGTATTAC" and "sequence" not in data["genome"]
    assert "基因组注释" in md and "环状, 1768 nt" in md and "| Rep | 51..995 | 314 | yes |" in md
    assert "| 衣壳蛋白 | complement(1034..1735) | 233 |" in md and "AAGTATTAC" in md
    assert "CRESS Rep 判定: 是" in md and "[T0] annotate_genome" in md
    # the family, with its nearest reference and the runner-up, in the genome section and in the Rep's section
    fam = data["genome"]["family"]
    assert fam["name"] == "Circoviridae" and fam["runner_up"]["family"] != "Circoviridae"
    near, up = fam["nearest"], fam["runner_up"]
    assert md.count(f"最近参考序列 {near['accession']}，Circoviridae，一致性 {100 * near['identity']:.0f}%") == 2, md
    assert md.count(f"- 次优科: {up['family']}：{up['accession']}") == 2
    json.dumps(zh["data"])


async def test_spliced_rep_is_the_protein_analysed():
    """The genome step alone, with the core function as a LangChain tool (as the MCP adapter presents it)."""
    from langchain_core.tools import StructuredTool

    from agent.report_genome import annotate_input, render
    from mcp_servers.sequence import service

    tool = StructuredTool.from_function(
        lambda sequence, include_sequences=False: json.dumps(service.annotate_genome(
            sequence, include_sequences=include_sequences)),
        name="annotate_genome", description="annotate a genome")
    result, genome, protein = await annotate_input((GENOMES / "NC_013464.1.fna").read_text(), tool, 60, "n/a")
    assert result["ok"] and protein["is_rep"] and len(protein["sequence"]) == 353
    assert protein["location"].startswith("complement(join(1442..") and protein["location"].endswith(",1933..2592))")
    md = "\n".join(render(genome, protein, "en"))
    assert "Genome annotation" in md and "RepA" in md and "TAATATTAC" in md and "ambisense" in md


def test_genbank_locations_in_the_report():
    from agent.report_genome import genbank_location

    n = 1768
    assert genbank_location({"start": 50, "end": 995, "strand": 1}, n) == "51..995"
    assert genbank_location({"start": 1700, "end": 100, "strand": 1}, n) == "join(1701..1768,1..100)"
    assert genbank_location({"start": 1700, "end": 100, "strand": -1}, n) == "complement(join(1701..1768,1..100))"
    spliced = {"start": 1441, "end": 2592, "strand": -1, "exons": [[1932, 2592], [1441, 1843]]}
    assert genbank_location(spliced, 2744) == "complement(join(1442..1843,1933..2592))"


def test_family_lines_warn_on_a_close_call_and_skip_what_the_tool_did_not_give():
    from agent.report_genome import family_lines

    fam = {"name": "Circoviridae", "score": 512.3, "close_call": True,
           "nearest": {"accession": "AAA1", "family": "Circoviridae", "identity": 0.953},
           "runner_up": {"accession": "BBB2", "family": "Kirkoviridae", "identity": 0.93, "margin": 0.023}}
    assert family_lines(fam, "en") == [
        "- Family: Circoviridae (profile score 512.3; nearest reference AAA1, Circoviridae, 95% identity)",
        "- Runner-up family: Kirkoviridae: BBB2, 93% identity (2 points behind)",
        "- ⚠ close call: the two families are about equally near; treat the family as uncertain"]
    alone = {"name": "unclassified CRESS", "score": 20.0, "nearest": None, "runner_up": None, "close_call": False}
    assert family_lines(alone, "en") == ["- Family: unclassified CRESS (profile score 20.0)"]
    assert family_lines(None, "en") == []
