"""Each mode's graph logic with scripted models (fakes test the logic only; test_mcp_and_e2e runs the real stack):
evidence mode calls no model; agentic mode lets the model decide, sends guard results back to it, runs the
PaperQA2-style evidence step and turns to PubMed when the library stays insufficient; the auto probe."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import StructuredTool

from agent.events import RunOverrides
from agent.runner import AgentService
from tests.fixtures.agent import (
    FakeKnowledgeBase,
    ScriptedChatModel,
    ToolRecorder,
    fake_tools,
    grades_reply,
    queries_reply,
    route_reply,
    tool_call,
)

pytestmark = pytest.mark.anyio

PCV2 = (Path(__file__).resolve().parents[1] / "data" / "agent" / "pcv2_rep.faa").read_text()
LIT_Q = "What does the Rep protein do in rolling-circle replication?"


def _with_mode(settings, mode: str):
    return settings.model_copy(update={"agent": settings.agent.model_copy(update={"mode": mode})})


def steps(result, node):
    return [e.data for e in result.trace if e.type == "step" and e.node == node]


async def test_evidence_mode_calls_no_model_and_composes_from_the_evidence(agent_settings):
    model = ScriptedChatModel()
    rec = ToolRecorder()
    svc = AgentService(_with_mode(agent_settings, "evidence"), chat_model=model, knowledge_base=FakeKnowledgeBase(),
                       tools=fake_tools(rec))
    try:
        lit = await svc.run(LIT_Q)
        seq = await svc.run("Is this a Rep, and what does Y96F do?\n" + PCV2)
    finally:
        await svc.aclose()
    assert model.calls == []  # not one model call: route, rewrite, grade, tools and answer all deterministic
    assert lit.mode == seq.mode == "evidence" and lit.answer_mode == seq.answer_mode == "evidence"
    assert "- The Rep protein of CRESS-DNA viruses initiates rolling-circle replication. [P1]" in lit.answer
    assert "Y96 lies in RCR motif III (YCSKEG, 96-101), the catalytic tyrosine [T1]." in seq.answer
    assert sorted(rec.names()) == ["annotate_rep", "properties", "score_mutations"]
    assert steps(seq, "verify")[0]["answer_mode"] == "evidence"


async def test_the_probe_picks_the_mode_from_what_the_model_can_do(agent_settings):
    """Scripted probes: both valid -> agentic; structured only -> guarded; neither -> evidence. (An injected
    model under auto runs guarded; test_mcp_and_e2e probes a real llama.cpp endpoint.)"""
    from agent.mode_probe import PROBE_SEQUENCE, probe

    def both(messages, kw):
        names = [t["function"]["name"] for t in kw.get("tools") or []]
        if "PassageGrades" in names:
            return grades_reply(["P1"], True)
        return tool_call("protein_properties", {"sequence": PROBE_SEQUENCE})

    wrong_grades = grades_reply(["P1", "P2"], True)  # valid JSON, wrong answer: not a pass
    cases = {"agentic": [both], "guarded": None, "evidence": [AIMessage(content="I cannot do that.")]}
    for mode, script in cases.items():
        model = ScriptedChatModel(script={"probe": script} if script else {})
        result = await probe(model, timeout=10)
        assert result["mode"] == mode, result
        assert len(model.calls_for("probe")) == 2
    assert (await probe(ScriptedChatModel(script={"probe": [wrong_grades]}), 10))["mode"] == "evidence"
    svc = AgentService(agent_settings, chat_model=ScriptedChatModel(), knowledge_base=FakeKnowledgeBase(), tools=[])
    try:
        assert await svc.mode() == "guarded" and svc.mode_info["source"].startswith("injected model")
    finally:
        await svc.aclose()


async def test_agentic_guard_results_go_back_to_the_model(agent_settings):
    """The guards' calls run first; the model then sees their results as tool messages and calls more."""
    rec = ToolRecorder()
    model = ScriptedChatModel(script={
        "route": [route_reply("both")],
        "tools": [tool_call("mutational_scan", {"sequence": "NP_937956.1"}), AIMessage(content="")],
        "answer": ["Y96 lies in RCR motif III [T1]. The scan ranks position 96 as most constrained [T3]."]})
    svc = AgentService(_with_mode(agent_settings, "agentic"), chat_model=model, knowledge_base=FakeKnowledgeBase(),
                       tools=fake_tools(rec))
    try:
        r = await svc.run("Is this a Rep? Which residues matter?\n" + PCV2)
    finally:
        await svc.aclose()
    first_tools_call = model.calls_for("tools")[0]["messages"]
    tool_msgs = [m for m in first_tools_call if isinstance(m, ToolMessage)]
    assert {m.name for m in tool_msgs} == {"annotate_rep", "properties"}  # the guards' results, seen by the model
    assert "YCSKEG" in " ".join(str(m.content) for m in tool_msgs)
    assert rec.names()[:2] == ["annotate_rep", "properties"] and rec.names()[2] == "mutational_scan"
    plans = steps(r, "plan_tools")
    assert plans[0]["model"].startswith("deferred") and plans[1]["model"].startswith("model proposed 1")
    assert r.mode == "agentic" and r.answer_mode == "model"


async def test_agentic_corrective_rag_searches_pubmed_ingests_and_says_so(agent_settings):
    kb = FakeKnowledgeBase(docs=[d for d in FakeKnowledgeBase().docs if d["chunk_id"] == "c-capsid"])
    rec = ToolRecorder()
    article = {"pmid": "31452104", "title": "Geminivirus Rep recruits host replication factors",
               "abstract": "Geminivirus Rep binds retinoblastoma-related protein to push the host cell into S phase."}

    async def search_pubmed(query: str, max_results: int = 5) -> str:
        """Search PubMed."""
        rec.calls.append(("search_pubmed", {"query": query, "max_results": max_results}))
        return json.dumps({"query": query, "articles": [article]})

    async def add_to_library(pmids: list[str] | None = None, query: str | None = None) -> str:
        """Add PubMed records to the local library."""
        rec.calls.append(("add_to_library", {"pmids": pmids}))
        kb.docs.append({"chunk_id": "pmid-31452104", "doc_id": "pmid:31452104", "title": article["title"],
                        "text": article["abstract"]})
        return json.dumps({"added": pmids, "skipped_existing": []})

    tools = [StructuredTool.from_function(coroutine=f, name=f.__name__, description=f.__doc__)
             for f in (search_pubmed, add_to_library)]

    def grade(messages, kw):  # the model's grades: only the geminivirus abstract answers the question
        body = str(messages[-1].content)
        ids = [f"P{i}" for i in range(1, 7) if f'id="P{i}"' in body]
        rel = [i for i in ids if "Geminivirus Rep" in body.split(f'id="{i}"')[1].split("</data>")[0]]
        return grades_reply(rel, bool(rel), "" if rel else "how geminivirus Rep acts on the host cell cycle")

    model = ScriptedChatModel(script={
        "route": [route_reply("retrieve")], "rewrite": [queries_reply("geminivirus Rep host cell cycle")],
        "grade": [grade], "evidence": [tool_call("PassageEvidence", {
            "summary": "Rep binds RBR to push the host cell into S phase.", "relevance": 9})],
        "answer": ["Geminivirus Rep binds retinoblastoma-related protein to push the host cell into S phase [P1]."]})
    svc = AgentService(_with_mode(agent_settings, "agentic"), chat_model=model, knowledge_base=kb, tools=tools)
    try:
        r = await svc.run("How does geminivirus Rep change the host cell cycle?",
                          overrides=RunOverrides(max_rounds=1))
    finally:
        await svc.aclose()
    assert rec.names() == ["search_pubmed", "add_to_library"]
    assert rec.calls[0][1]["query"] == "geminivirus Rep host cell cycle"  # the model's query
    assert rec.calls[1][1]["pmids"] == ["31452104"]
    assert [e.node for e in r.trace if e.type == "step"].count("retrieve") == 3  # 2 library rounds + after ingest
    assert r.passages[0].chunk_id == "pmid-31452104" and "[P1]" in r.answer
    assert "searched PubMed" in r.answer and "PMID 31452104" in r.answer
    assert steps(r, "corrective")[0]["added"] == 1
    assert steps(r, "answer")[0]["evidence"][0]["relevance"] == 9, (model.calls_for("evidence"), [c["stage"] for c in model.calls])  # the evidence step fed the answer
    assert "Summary: Rep binds RBR" in str(model.calls_for("answer")[0]["messages"][-1].content)


async def test_agentic_evidence_step_drops_irrelevant_passages(agent_settings):
    def evidence(messages, kw):
        body = str(messages[-1].content)
        score = 9 if "nicks" in body else 1
        return tool_call("PassageEvidence", {"summary": "relevant" if score > 5 else "", "relevance": score})

    model = ScriptedChatModel(script={"evidence": [evidence], "grade": [grades_reply(["P1", "P2", "P3"], True)]})
    svc = AgentService(_with_mode(agent_settings, "agentic"), chat_model=model, knowledge_base=FakeKnowledgeBase(),
                       tools=[])
    try:
        r = await svc.run(LIT_Q)
    finally:
        await svc.aclose()
    assert [p.chunk_id for p in r.passages] == ["c-rcr"]  # relevance 1 passages are not answered from
    assert len(model.calls_for("evidence")) == 3


async def test_unsupported_claims_trigger_one_regeneration_with_the_verdicts(agent_settings):
    """agentic: a claim that misquotes the tool result (Y95; the tool found motif III at 96) is written again
    once, with the verdict as feedback; the verdicts of the final answer are in RunResult.claims."""
    model = ScriptedChatModel(script={
        "route": [route_reply("tools")], "tools": [AIMessage(content="")],
        "answer": ["Y95 lies in RCR motif III (YCSKEG) [T1]."],
        "regenerate": ["Y96 lies in RCR motif III (YCSKEG, 96-101) [T1]."]})
    svc = AgentService(_with_mode(agent_settings, "agentic"), chat_model=model, knowledge_base=FakeKnowledgeBase(),
                       tools=fake_tools(ToolRecorder()))
    try:
        r = await svc.run("Where is motif III in this protein?\n" + PCV2,
                          overrides=RunOverrides(retrieval_enabled=False))
    finally:
        await svc.aclose()
    regen = model.calls_for("regenerate")
    assert len(regen) == 1
    feedback = str(regen[0]["messages"][-1].content)
    assert "Y95 lies in RCR motif III" in feedback and "Y95 stated, tool says 96" in feedback
    assert r.answer.startswith("Y96 lies in RCR motif III (YCSKEG, 96-101) [T1].")
    assert r.claims and all(c["supported"] for c in r.claims if not c.get("exempt"))
    assert steps(r, "verify")[0]["regenerated"] is True


@pytest.mark.parametrize("policy", ["mark", "remove"])
async def test_unsupported_claims_are_marked_or_removed(agent_settings, policy):
    s = agent_settings.model_copy(update={"agent": agent_settings.agent.model_copy(
        update={"mode": "guarded", "claim_policy": policy})})
    model = ScriptedChatModel(script={
        "route": [route_reply("tools")], "tools": [AIMessage(content="")],
        "answer": ["The sequence is a CRESS Rep, call yes [T1]. Y95 lies in RCR motif III [T1]."]})
    svc = AgentService(s, chat_model=model, knowledge_base=FakeKnowledgeBase(), tools=fake_tools(ToolRecorder()))
    try:
        r = await svc.run("Where is motif III in this protein?\n" + PCV2,
                          overrides=RunOverrides(retrieval_enabled=False))
    finally:
        await svc.aclose()
    assert model.calls_for("regenerate") == []  # guarded mode never regenerates
    verdicts = {c["text"].split(" [")[0]: c["supported"] for c in r.claims}
    assert verdicts == {"The sequence is a CRESS Rep, call yes": True, "Y95 lies in RCR motif III": False}
    assert "The sequence is a CRESS Rep, call yes [T1]." in r.answer
    if policy == "mark":
        assert "⚠ [unsupported] Y95 lies in RCR motif III" in r.answer
    else:
        assert "Y95" not in r.answer


PROTEINGYM = {"chunk_id": "c-pg", "doc_id": "proteingym.md", "title": "ProteinGym and viral proteins",
              "text": "ProteinGym collects deep mutational scanning assays. On ProteinGym, zero-shot protein language "
                      "models such as ESM-2 predict mutation effects in viral proteins poorly, with a mean Spearman "
                      "correlation of 0.26 on virus assays for the 650M model."}


@pytest.mark.parametrize("mode", ["evidence", "agentic"])
async def test_report_caveat_comes_from_the_library_and_agentic_adds_a_checked_summary(agent_settings, mode):
    kb = FakeKnowledgeBase(docs=[*FakeKnowledgeBase().docs, PROTEINGYM])

    def summary(messages, _kw):  # cites the ProteinGym passage under whatever id the report gave it
        ref = re.search(r'<data id="(P\d+)"[^>]*>[^<]*ProteinGym', str(messages[-1].content)).group(1)
        return (f"The protein is a CRESS Rep, call yes [T1]. Motif III starts at Y95 [T1]. ESM-2 predicts "
                f"mutation effects in viral proteins poorly [{ref}].")

    model = ScriptedChatModel(script={"report_summary": [summary], "judge": [
        tool_call("ClaimJudgement", {"supported": False, "reason": "test: the judge says no"})]})
    svc = AgentService(_with_mode(agent_settings, mode), chat_model=model, knowledge_base=kb,
                       tools=fake_tools(ToolRecorder()))
    try:
        rep = await svc.report(PCV2, lang="en")
    finally:
        await svc.aclose()
    data, md = rep["data"], rep["markdown"]
    ref = next(p["ref"] for p in data["passages"] if p["chunk_id"] == "c-pg")
    assert data["caveat"].startswith("From the library: ") and f"[{ref}]" in data["caveat"]
    assert "mean Spearman correlation of 0.26 on virus assays for the 650M model." in data["caveat"]
    assert f"> {data['caveat']}" in md
    if mode == "evidence":
        assert "summary" not in data and model.calls == [] and "## Summary" not in md
    else:
        summary = data["summary"]
        assert md.split("\n\n")[1] == "## Summary"
        verdicts = {c["text"].split(" [")[0]: c["supported"] for c in summary["claims"]}
        # the tool claims are checked against T1; the passage claim, which the offline scorer alone supports (0.88),
        # is also judged by the model, whose "no" wins
        assert verdicts == {"The protein is a CRESS Rep, call yes": True, "Motif III starts at Y95": False,
                            "ESM-2 predicts mutation effects in viral proteins poorly": False}
        judged = [c for c in summary["claims"] if c.get("judge")]
        assert len(judged) == 1 and judged[0]["judge"]["reason"] == "test: the judge says no"
        assert len(model.calls_for("judge")) == 1  # tool claims are never sent to the judge
        assert "⚠ [unsupported] Motif III starts at Y95" in summary["text"]


@pytest.mark.parametrize("mode", ["agentic", "guarded"])
async def test_agentic_mode_judges_its_own_claims_and_counts_the_calls(agent_settings, mode):
    """agentic: the run's model gives each passage claim of its draft a second verdict; its "not supported" wins
    over the offline scorer, triggers the one regeneration (the reason is in the feedback), and the final
    verdicts carry the judge's; the judge's calls are counted. guarded: no judge."""
    judge = [tool_call("ClaimJudgement", {"supported": False, "reason": "the passage says nothing of RNA"}),
             tool_call("ClaimJudgement", {"supported": True, "reason": "stated in the passage"})]
    model = ScriptedChatModel(script={"judge": judge,
                                      "regenerate": ["Rep initiates rolling-circle replication [P1]."]})
    svc = AgentService(_with_mode(agent_settings, mode), chat_model=model, knowledge_base=FakeKnowledgeBase(),
                       tools=[])
    try:
        r = await svc.run(LIT_Q)
    finally:
        await svc.aclose()
    verify = steps(r, "verify")[0]
    if mode == "guarded":
        assert model.calls_for("judge") == [] and model.calls_for("regenerate") == []
        assert all("judge" not in c for c in verify["claims"])
        return
    calls = model.calls_for("judge")
    assert len(calls) == 2 and calls[0]["tools"] == ["ClaimJudgement"]  # the draft's claim, then the rewrite's
    assert "Claim: Rep initiates rolling-circle replication." in str(calls[0]["messages"][-1].content)
    feedback = str(model.calls_for("regenerate")[0]["messages"][-1].content)
    assert "judge: the passage says nothing of RNA" in feedback
    assert verify["regenerated"] is True
    assert [c["judge"] for c in r.claims] == [{"supported": True, "reason": "stated in the passage"}]
    assert verify["claims"][0]["judge"]["supported"] is True and r.claims[0]["supported"]
    assert verify["llm_calls"] >= 3  # regenerate + 2 judge calls are metered in the verify step
