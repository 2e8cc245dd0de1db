"""Tool-call hygiene and plain messages: normalised dedupe, failed calls not citable, old citation tags out of
the history, a follow-up reusing the thread's evidence, an empty library said plainly without the model, and no
internal exception names or prompt text in any answer."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import ToolException

from agent.compose import EMPTY_LIBRARY
from agent.nodes.common import call_key
from agent.runner import AgentService
from tests.fixtures.agent import FakeKnowledgeBase, ScriptedChatModel, ToolRecorder, fake_tools, tool_call

pytestmark = pytest.mark.anyio

PCV2 = (Path(__file__).resolve().parents[1] / "data" / "agent" / "pcv2_rep.faa").read_text()
SEQ = "".join(ln.strip() for ln in PCV2.splitlines() if not ln.startswith(">"))
LIT_Q = "What does the Rep protein do in rolling-circle replication?"


def make(settings, model, kb=None, rec=None, fail=None):
    return AgentService(settings, chat_model=model, knowledge_base=kb or FakeKnowledgeBase(),
                        tools=fake_tools(rec or ToolRecorder(), fail=fail))


def steps(result, node):
    return [e.data for e in result.trace if e.type == "step" and e.node == node]


def test_call_keys_ignore_fasta_header_whitespace_and_case():
    fasta = PCV2
    wrapped = "\n".join(SEQ[i:i + 60].lower() for i in range(0, len(SEQ), 60))
    assert call_key("annotate_rep", {"sequence": fasta}) == call_key("annotate_rep", {"sequence": SEQ})
    assert call_key("annotate_rep", {"sequence": wrapped}) == call_key("annotate_rep", {"sequence": SEQ})
    assert call_key("score_mutations", {"sequence": SEQ, "mutations": ["Y96F"]}) != \
        call_key("score_mutations", {"sequence": SEQ, "mutations": ["K4A"]})
    assert call_key("search_pubmed", {"query": "Circovirus  Rep"}) == call_key("search_pubmed", {"query": "circovirus rep"})


async def test_the_same_call_from_guard_and_model_runs_once(agent_settings):
    """The guard passes FASTA with its header, the model the bare sequence: one call."""
    rec = ToolRecorder()
    model = ScriptedChatModel(script={"tools": [tool_call("annotate_rep", {"sequence": SEQ}), AIMessage(content="")]})
    svc = make(agent_settings, model, rec=rec)
    try:
        r = await svc.run("Is this a Rep?\n" + PCV2)
    finally:
        await svc.aclose()
    assert rec.names().count("annotate_rep") == 1
    assert "annotate_rep" in steps(r, "plan_tools")[0]["duplicates_skipped"]


async def test_failed_calls_cannot_be_cited(agent_settings):
    model = ScriptedChatModel(script={"answer": ["Y96 is in motif III [T1]. Y96F is damaging [T3]."]})
    svc = make(agent_settings, model, fail={"score_mutations": ToolException("no model")})
    try:
        r = await svc.run("What does Y96F do?\n" + PCV2)
    finally:
        await svc.aclose()
    failed = [t for t in r.tool_results if not t.ok]
    assert [t.id for t in failed] == ["T3"]
    assert "T3" in r.invalid_citations and "[T3]" not in r.answer
    assert steps(r, "verify")[0]["uncitable_failed_calls"] == ["T3"]
    assert [c.ref for c in r.citations] == ["T1"]
    assert "ESM-2 scoring unavailable (T3): no model." in r.answer  # said once, plainly, without a citation


async def test_history_given_to_the_model_has_no_old_citation_tags(agent_settings):
    model = ScriptedChatModel(script={"answer": ["Rep nicks the origin [P1] with motif III [P2, T1]."]})
    svc = make(agent_settings, model)
    try:
        await svc.run(LIT_Q, thread_id="t")
        await svc.run("And what about its helicase?", thread_id="t")
    finally:
        await svc.aclose()
    second = model.calls_for("answer")[1]["messages"]
    earlier = [m for m in second if isinstance(m, AIMessage)]
    assert earlier and earlier[0].content == "Rep nicks the origin with motif III."
    assert all("[P" not in str(m.content) for m in second if isinstance(m, (AIMessage, HumanMessage))
               and m is not second[-1])


async def test_a_follow_up_reuses_the_threads_evidence(agent_settings):
    rec = ToolRecorder()
    kb = FakeKnowledgeBase()
    model = ScriptedChatModel()
    svc = make(agent_settings, model, kb=kb, rec=rec)
    try:
        first = await svc.run("Is this a Rep?\n" + PCV2, thread_id="t")
        kb.docs = [d for d in kb.docs if d["chunk_id"] == "c-capsid"]  # the library no longer finds turn 1's passages
        follow = await svc.run("What does it do in replication?", thread_id="t")
        again = await svc.run("Is this a Rep?\n" + PCV2, thread_id="t")
    finally:
        await svc.aclose()
    reused = steps(follow, "retrieve")[0]["reused_from_thread"]
    assert reused and set(reused) <= {p.chunk_id for p in first.passages}
    assert {p.chunk_id for p in follow.passages} & set(reused)  # offered again and graded relevant
    assert rec.names().count("annotate_rep") == 1  # the same sequence again: the earlier result is reused
    assert "annotate_rep" in steps(again, "plan_tools")[0]["reused_from_thread"]
    assert any(t.name == "annotate_rep" and t.ok for t in again.tool_results)


@pytest.mark.parametrize("lang,question", [("en", LIT_Q), ("zh", "圆环病毒Rep蛋白的功能是什么？")])
async def test_an_empty_library_is_said_plainly_without_the_model(agent_settings, lang, question):
    model = ScriptedChatModel(latency_s=5.0)  # a model call would show in the time
    kb = FakeKnowledgeBase(docs=[])
    s = agent_settings.model_copy(update={"agent": agent_settings.agent.model_copy(update={"mode": "guarded"})})
    svc = make(s, model, kb=kb)
    try:
        start = time.perf_counter()
        r = await svc.run(question)
        seconds = time.perf_counter() - start
    finally:
        await svc.aclose()
    assert r.answer == EMPTY_LIBRARY[lang]
    assert "bioagent ingest examples/library" in r.answer and "PubMed" in r.answer
    assert model.calls == [] and kb.queries == [] and seconds < 5.0
    assert steps(r, "route")[0]["llm"] == "skipped: the library is empty"
    assert r.insufficient_evidence


async def test_internal_exception_names_never_reach_the_answer(agent_settings):
    fail = {"annotate_rep": anyio.ClosedResourceError(), "properties": anyio.BrokenResourceError()}
    for mode, answer in (("evidence", None), ("guarded", "annotate_rep failed: ClosedResourceError [T1].")):
        s = agent_settings.model_copy(update={"agent": agent_settings.agent.model_copy(update={"mode": mode})})
        model = ScriptedChatModel(script={"answer": [answer]} if answer else {})
        svc = make(s, model, fail=fail)
        try:
            r = await svc.run("Is this a Rep?\n" + PCV2)
        finally:
            await svc.aclose()
        assert not any(t.ok for t in r.tool_results if t.name in fail)
        assert "ClosedResourceError" not in r.answer and "BrokenResourceError" not in r.answer, r.answer
        assert "Rep motif annotation unavailable (T1): the tool server is not responding." in r.answer
        if mode == "guarded":
            assert r.answer_mode == "fallback"
            assert "answer repeats internal error text" in steps(r, "verify")[0]["fallback_reasons"]


async def test_a_model_echoing_the_prompt_never_reaches_the_answer(agent_settings):
    def echo(messages, kw):
        return str(messages[-1].content)  # the whole user prompt: fenced passages and instructions

    model = ScriptedChatModel(script={"answer": [echo]})
    svc = make(agent_settings, model, kb=FakeKnowledgeBase(docs=FakeKnowledgeBase().docs[3:]))
    try:
        r = await svc.run("What do Rep proteins do in the host nucleus, according to the literature?")
    finally:
        await svc.aclose()
    assert r.answer_mode == "fallback"
    assert "<data" not in r.answer and "say what is missing" not in r.answer.lower()
    assert "Question:" not in r.answer and "citations like" not in r.answer
    assert "answer repeats the prompt's instructions" in steps(r, "verify")[0]["fallback_reasons"]
