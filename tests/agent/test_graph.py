"""Graph logic with scripted fake chat models: every route, re-retrieval bound, invalid structured output,
tool errors, dead servers, citation checking, Chinese questions, prompt injection and multi-turn threads."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import ToolException

from agent.events import RunOverrides
from agent.graph import NODES
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


def make(settings, model=None, kb=None, recorder=None, fail=None, tools=None):
    recorder = recorder or ToolRecorder()
    return AgentService(settings, chat_model=model or ScriptedChatModel(), knowledge_base=kb or FakeKnowledgeBase(),
                        tools=tools if tools is not None else fake_tools(recorder, fail=fail))


def steps(result, node=None):
    return [e for e in result.trace if e.type == "step" and (node is None or e.node == node)]


def nodes_run(result):
    return [e.node for e in steps(result)]


async def test_literature_question_retrieves_grades_answers_and_checks_citations(agent_settings):
    model = ScriptedChatModel(script={"answer": ["Rep nicks the origin [P1] and uses motif III [P2]. Also [P9]."]})
    kb = FakeKnowledgeBase()
    svc = make(agent_settings, model, kb)
    try:
        r = await svc.run(LIT_Q)
    finally:
        await svc.aclose()
    assert r.route == "retrieve"
    assert nodes_run(r) == ["route", "rewrite", "retrieve", "grade", "answer", "verify"]
    assert kb.queries[0] == LIT_Q  # the question itself is always searched
    assert r.answer == "Rep nicks the origin [P1] and uses motif III [P2]. Also."
    assert r.invalid_citations == ["P9"]
    assert [c.ref for c in r.citations] == ["P1", "P2"]
    assert r.citations[0].chunk_id == r.passages[0].chunk_id == "c-rcr"
    assert not r.insufficient_evidence
    assert r.usage["prompt_tokens"] > 0 and r.usage["completion_tokens"] > 0
    step = steps(r, "route")[0].data
    assert {"duration_ms", "tokens", "llm_ms"} <= set(step)


async def test_direct_route_skips_retrieval(agent_settings):
    model = ScriptedChatModel(script={"route": [route_reply("direct")], "answer": ["Hello! How can I help?"]})
    kb = FakeKnowledgeBase()
    svc = make(agent_settings, model, kb)
    try:
        r = await svc.run("hello")
    finally:
        await svc.aclose()
    assert r.route == "direct" and kb.queries == []
    assert nodes_run(r) == ["route", "answer", "verify"]
    assert r.answer == "Hello! How can I help?"


async def test_tools_route_executes_model_tool_calls(agent_settings):
    rec = ToolRecorder()
    model = ScriptedChatModel(script={
        "route": [route_reply("tools")],
        "tools": [tool_call("search_pubmed", {"query": "circovirus Rep"}), AIMessage(content="")],
        "answer": ["PubMed has a record on circovirus Rep [T1]."]})
    svc = make(agent_settings, model, recorder=rec)
    try:
        r = await svc.run("hi, could you check what is new on this topic")
    finally:
        await svc.aclose()
    assert r.route == "tools"
    assert rec.names() == ["search_pubmed"]
    assert r.tool_results[0].id == "T1" and r.tool_results[0].ok
    assert r.tool_results[0].content["articles"][0]["pmid"] == "123"
    assert [c.ref for c in r.citations] == ["T1"]
    assert nodes_run(r) == ["route", "plan_tools", "run_tools", "plan_tools", "answer", "verify"]
    # the model was offered the literature tools (no sequence in the message), never add_to_library
    offered = model.calls_for("tools")[0]["tools"]
    assert "search_pubmed" in offered and "add_to_library" not in offered and "annotate_rep" not in offered
    events = [e.type for e in r.trace]
    assert "tool_call" in events and "tool_result" in events


async def test_sequence_always_reaches_sequence_tools_even_if_the_model_calls_none(agent_settings):
    rec = ToolRecorder()
    model = ScriptedChatModel(script={"route": [route_reply("direct")], "tools": [AIMessage(content="no tools")]})
    svc = make(agent_settings, model, recorder=rec)
    try:
        r = await svc.run("Is this a Rep, and what does Y96F do?\n" + PCV2)
    finally:
        await svc.aclose()
    assert r.route == "both"  # guards: the sequence needs tools, the question retrieval; the model cannot remove them
    assert rec.names() == ["annotate_rep", "properties", "score_mutations"]
    assert rec.calls[2][1]["mutations"] == ["Y96F"]
    assert [t.id for t in r.tool_results] == ["T1", "T2", "T3"]
    route = steps(r, "route")[0].data
    assert route["mutations"] == ["Y96F"] and route["sequences"][0]["length"] == 314
    # the model saw the tools of the sequence server only, and not the raw sequence in the question text
    call = model.calls_for("tools")[0]
    assert set(call["tools"]) == {"annotate_rep", "properties", "score_mutations", "mutational_scan"}
    assert "[sequence NP_937956.1, 314 aa]" in str(call["messages"][-1].content)


async def test_model_tool_call_with_sequence_placeholder_gets_the_sequence(agent_settings):
    rec = ToolRecorder()
    model = ScriptedChatModel(script={"tools": [tool_call("mutational_scan", {"sequence": "NP_937956.1"}),
                                                AIMessage(content="")]})
    svc = make(agent_settings, model, recorder=rec)
    try:
        await svc.run("Which residues are constrained?\n" + PCV2)
    finally:
        await svc.aclose()
    scan = [a for n, a in rec.calls if n == "mutational_scan"]
    assert scan and scan[0]["sequence"].startswith("MPSKKNGRSG")


async def test_tool_calls_are_bounded_per_query(agent_settings):
    rec = ToolRecorder()
    model = ScriptedChatModel(script={"tools": [tool_call("mutational_scan", {"sequence": "seq1"})]})
    svc = make(agent_settings, model, recorder=rec)
    try:
        r = await svc.run("Y96F?\n" + PCV2, overrides=RunOverrides(max_tool_calls=2))
    finally:
        await svc.aclose()
    assert len(rec.calls) == 2
    rejected = [x for s in steps(r, "plan_tools") for x in s.data["rejected"]]
    assert any(x["reason"] == "tool-call limit reached" for x in rejected)


async def test_rerieval_rounds_are_bounded_and_missing_evidence_is_said(agent_settings):
    model = ScriptedChatModel(script={
        "rewrite": [lambda m, kw: queries_reply(f"query variant {len(m)}-{id(m) % 97}")],
        "grade": [grades_reply([], sufficient=False, missing="host range data")],
        "answer": [""]})
    kb = FakeKnowledgeBase()
    svc = make(agent_settings, model, kb)
    try:
        r = await svc.run(LIT_Q)
        r0 = await svc.run(LIT_Q, overrides=RunOverrides(max_rounds=0))
    finally:
        await svc.aclose()
    assert agent_settings.agent.max_rounds == 2
    assert nodes_run(r).count("retrieve") == 3  # first retrieval + max_rounds re-retrievals
    assert nodes_run(r0).count("retrieve") == 1
    assert r.insufficient_evidence
    assert "not enough evidence" in r.answer and "host range data" in r.answer
    rounds = [s.data["round"] for s in steps(r, "rewrite")]
    assert rounds == [1, 2, 3]
    # every round searched something new
    queries = [q for s in steps(r, "retrieve") for q in s.data["queries"]]
    assert len(queries) == len(set(q.lower() for q in queries))


async def test_invalid_structured_output_falls_back_to_the_guarded_default(agent_settings):
    model = ScriptedChatModel(script={
        "route": ["I think you should maybe retrieve?"],
        "rewrite": [tool_call("SearchQueries", {"queries": "not a list"})],
        "grade": [tool_call("PassageGrades", {"relevant": ["P77"], "sufficient": "perhaps"})],
    })
    svc = make(agent_settings, model)
    try:
        r = await svc.run(LIT_Q)
    finally:
        await svc.aclose()
    assert r.route == "retrieve"
    assert "invalid structured output" in steps(r, "route")[0].data["llm"]
    assert "deterministic" in steps(r, "rewrite")[0].data["model"]
    assert "score threshold" in steps(r, "grade")[0].data["model"]
    assert r.passages and r.passages[0].chunk_id == "c-rcr"  # the threshold grading kept the right passage
    assert [c.ref for c in r.citations] == ["P1"]


async def test_model_errors_never_crash_the_run(agent_settings):
    boom = ConnectionError("endpoint went away")
    model = ScriptedChatModel(script={s: [boom] for s in ("route", "rewrite", "grade", "tools", "answer")})
    svc = make(agent_settings, model)
    try:
        r = await svc.run("What does Y96F do?\n" + PCV2)
    finally:
        await svc.aclose()
    assert r.route == "both" and r.answer_mode == "fallback"
    assert steps(r, "verify")[0].data["fallback"] is True
    assert "Y96 lies in RCR motif III (YCSKEG, 96-101), the catalytic tyrosine [T1]." in r.answer
    assert "[P1]" in r.answer


async def test_tool_error_becomes_a_result_the_model_sees(agent_settings):
    rec = ToolRecorder()
    model = ScriptedChatModel()
    svc = make(agent_settings, model, recorder=rec, fail={"score_mutations": ToolException("wild type at 96 is Y, not W")})
    try:
        r = await svc.run("What does W96F do?\n" + PCV2)
    finally:
        await svc.aclose()
    bad = [t for t in r.tool_results if t.name == "score_mutations"][0]
    assert not bad.ok and "wild type at 96 is Y" in bad.error
    assert [t.ok for t in r.tool_results if t.name != "score_mutations"] == [True, True]
    answer_prompt = str(model.calls_for("answer")[0]["messages"][-1].content)
    assert "ERROR: tool score_mutations failed" in answer_prompt


async def test_dead_server_transport_error_is_handled(agent_settings):
    rec = ToolRecorder()
    svc = make(agent_settings, recorder=rec, fail={"annotate_rep": anyio.BrokenResourceError(),
                                                  "properties": ConnectionResetError("server exited")})
    try:
        r = await svc.run("Is this a Rep?\n" + PCV2)
    finally:
        await svc.aclose()
    errs = {t.name: t.error for t in r.tool_results}
    assert "BrokenResourceError" in errs["annotate_rep"] and "server exited" in errs["properties"]
    # the answer says which analyses failed, in one line each, without the exception names
    assert "Rep motif annotation unavailable (T1): the tool server is not responding." in r.answer
    assert "Protein properties unavailable (T2)" in r.answer and "BrokenResourceError" not in r.answer


async def test_no_sequence_tools_at_all_is_reported(agent_settings):
    svc = make(agent_settings, tools=[])
    try:
        r = await svc.run("Is this a Rep?\n" + PCV2)
    finally:
        await svc.aclose()
    assert r.tool_results and not r.tool_results[0].ok
    assert "not available" in r.tool_results[0].error


async def test_chinese_question_is_answered_in_chinese_with_english_queries(agent_settings):
    model = ScriptedChatModel(script={"rewrite": ["garbage"],
                                      "answer": ["Rep initiates replication [P1]."]})  # English: wrong language
    kb = FakeKnowledgeBase()
    svc = make(agent_settings, model, kb)
    try:
        r = await svc.run("圆环病毒Rep蛋白在滚环复制中的功能是什么？")
    finally:
        await svc.aclose()
    assert r.language == "zh" and r.route == "retrieve"
    assert kb.queries[0] == "圆环病毒Rep蛋白在滚环复制中的功能是什么？"  # cross-lingual retrieval gets the original
    assert any(q.startswith("circovirus Rep protein") for q in kb.queries)  # plus an English keyword query
    assert r.answer.startswith("文献库中") and "[P1]" in r.answer and r.answer_mode == "fallback"
    assert "answer not in the user's language" in steps(r, "verify")[0].data["fallback_reasons"]


async def test_chinese_answer_from_the_model_is_kept(agent_settings):
    model = ScriptedChatModel(script={"answer": ["Rep 蛋白启动滚环复制 [P1]。"]})
    svc = make(agent_settings, model)
    try:
        r = await svc.run("Rep蛋白的功能是什么？", overrides=RunOverrides(language="zh"))
    finally:
        await svc.aclose()
    assert r.answer == "Rep 蛋白启动滚环复制 [P1]。" and r.language == "zh"


async def test_multi_turn_thread_keeps_the_conversation(agent_settings):
    kb = FakeKnowledgeBase()
    model = ScriptedChatModel(script={"rewrite": ["no structured output"]})
    svc = make(agent_settings, model, kb)
    try:
        r1 = await svc.run("What does the Rep protein do in rolling-circle replication?", thread_id="t-1")
        r2 = await svc.run("Which motifs does it use?", thread_id="t-1")
        other = await svc.run("hello", thread_id="t-2")
        history = await svc.history("t-1")
    finally:
        await svc.aclose()
    assert r1.thread_id == r2.thread_id == "t-1"
    assert [h["role"] for h in history] == ["user", "assistant", "user", "assistant"]
    assert history[2]["content"] == "Which motifs does it use?" and history[3]["content"] == r2.answer
    # the follow-up's query carries the previous question's keywords (deterministic pronoun resolution)
    follow = steps(r2, "rewrite")[0].data["queries"][0]
    assert "Which motifs does it use?" in follow and "Rep" in follow
    # the model saw the earlier turn
    last_answer_call = model.calls_for("answer")[1]["messages"]
    assert any("rolling-circle" in str(m.content) for m in last_answer_call[1:-1])
    # per-turn state was reset: turn 2 counts only its own calls' tokens (its prompts are longer: history)
    assert r2.usage["llm_calls"] == sum(e.data["llm_calls"] for e in r2.trace if e.type == "step") > 0
    assert r2.usage["prompt_tokens"] == sum(e.data["tokens"]["prompt"] for e in r2.trace if e.type == "step")
    assert r2.tool_results == []
    assert other.thread_id == "t-2"


async def test_sqlite_checkpoint_survives_a_new_service(agent_settings):
    svc = make(agent_settings)
    try:
        await svc.run(LIT_Q, thread_id="persist")
    finally:
        await svc.aclose()
    assert (agent_settings.data_dir / "checkpoints.sqlite").is_file()
    svc2 = make(agent_settings)
    try:
        history = await svc2.history("persist")
    finally:
        await svc2.aclose()
    assert [h["role"] for h in history] == ["user", "assistant"]


async def test_knowledge_base_failure_is_an_error_not_a_crash(agent_settings):
    kb = FakeKnowledgeBase()
    kb.fail = True
    svc = make(agent_settings, kb=kb)
    try:
        r = await svc.run(LIT_Q)
    finally:
        await svc.aclose()
    assert "store unavailable" in " ".join(steps(r, "retrieve")[0].data["errors"])
    assert r.insufficient_evidence and "not enough evidence" in r.answer


async def test_retrieval_can_be_disabled(agent_settings):
    kb = FakeKnowledgeBase()
    model = ScriptedChatModel(script={"route": [route_reply("retrieve")], "answer": ["I can't look that up."]})
    svc = make(agent_settings, model, kb)
    try:
        r = await svc.run(LIT_Q, overrides=RunOverrides(retrieval_enabled=False))
    finally:
        await svc.aclose()
    assert r.route == "direct" and kb.queries == []


def test_graph_has_every_node_and_langgraph_json_points_at_it():
    import json

    from agent import langgraph_app

    root = Path(__file__).resolve().parents[2]
    spec = json.loads((root / "langgraph.json").read_text())
    path, attr = spec["graphs"]["bioagent"].split(":")
    assert (root / path).resolve() == Path(langgraph_app.__file__).resolve()
    assert callable(getattr(langgraph_app, attr))  # the graph factory (tests/serving runs it under langgraph dev)
    assert set(NODES) <= set(langgraph_app.GRAPH.get_graph().nodes)


async def test_answer_prompt_fits_the_context_window(agent_settings):
    agent_settings.llm.n_ctx = 1024
    agent_settings.llm.max_tokens = 256
    long_docs = [{"chunk_id": f"c{i}", "doc_id": f"d{i}", "title": f"Rep replication {i}",
                  "text": ("Rep protein drives rolling-circle replication of the viral genome. " * 40)} for i in range(6)]
    model = ScriptedChatModel()
    svc = make(agent_settings, model, FakeKnowledgeBase(long_docs))
    try:
        r = await svc.run(LIT_Q)
    finally:
        await svc.aclose()
    messages = model.calls_for("answer")[0]["messages"]
    assert sum(len(str(m.content)) for m in messages) <= 2000 + 200
    assert 1 <= len(r.passages) < 6 and "[P1]" in r.answer
