"""The agent against the real servers.

- MCP: the real sequence and literature servers over stdio (tiny random ESM-2), and a server that cannot start.
- End to end (slow; CI runs it): the real llama.cpp server with the bundled SmolLM2 GGUF over HTTP, the real
  embedded Qdrant knowledge base with the sample library, and the real MCP servers over stdio.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.graph import NODES
from agent.runner import AgentService
from tests.fixtures.agent import FakeKnowledgeBase, ScriptedChatModel

pytestmark = pytest.mark.anyio

PCV2 = (Path(__file__).resolve().parents[1] / "data" / "agent" / "pcv2_rep.faa").read_text()


def _with(settings, **sections):
    return settings.model_copy(update={name: getattr(settings, name).model_copy(update=values)
                                       for name, values in sections.items()})


@pytest.fixture
def mcp_settings(agent_settings, tiny_esm_checkpoint):
    return _with(agent_settings, sequence={"esm_model": str(tiny_esm_checkpoint), "esm_device": "cpu"})


async def test_real_mcp_servers_over_stdio_reach_the_esm_tool(mcp_settings):
    svc = AgentService(mcp_settings, chat_model=ScriptedChatModel(), knowledge_base=FakeKnowledgeBase())
    try:
        r = await svc.run("What does Y96F do to this Rep?\n" + PCV2)
        ready = await svc.readiness()
    finally:
        await svc.aclose()
    by_name = {t.name: t for t in r.tool_results}
    assert set(by_name) == {"annotate_rep", "protein_properties", "score_mutations"}
    assert all(t.ok for t in by_name.values()), [t.error for t in by_name.values()]
    assert by_name["annotate_rep"].content["records"][0]["call"] == "yes"
    assert by_name["score_mutations"].content["model"] == "esm2_t2_tiny_random"
    assert ready["mcp_sequence"]["ok"] and ready["mcp_literature"]["ok"]
    assert "annotate_rep" in ready["mcp_sequence"]["detail"]


async def test_mcp_tool_error_from_the_real_server_is_a_result(mcp_settings):
    svc = AgentService(mcp_settings, chat_model=ScriptedChatModel(), knowledge_base=FakeKnowledgeBase())
    try:
        r = await svc.run("What does W96F do?\n" + PCV2)
    finally:
        await svc.aclose()
    bad = [t for t in r.tool_results if t.name == "score_mutations"]
    # W96F does not fit the sequence, so the guard still passes it on and the server explains
    assert bad and not bad[0].ok and "has 'Y' at position 96" in bad[0].error


async def test_a_server_that_cannot_start_is_reported_and_the_agent_still_answers(agent_settings, monkeypatch):
    import agent.tools as tools_mod

    monkeypatch.setattr(tools_mod, "SERVER_MODULES", {"sequence": "mcp_servers.no_such_server",
                                                      "literature": "mcp_servers.literature.server"})
    svc = AgentService(agent_settings, chat_model=ScriptedChatModel(), knowledge_base=FakeKnowledgeBase())
    try:
        r = await svc.run("Is this a Rep?\n" + PCV2)
        ready = await svc.readiness()
    finally:
        await svc.aclose()
    assert not ready["mcp_sequence"]["ok"] and "no_such_server" in ready["mcp_sequence"]["detail"]
    assert ready["mcp_literature"]["ok"]
    assert r.tool_results and not r.tool_results[0].ok
    assert "sequence server unavailable" in r.tool_results[0].error
    assert "unavailable (T1)" in r.answer and "[T1]" not in r.answer  # said plainly, and not citable


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_auto_mode_probe_puts_smollm2_in_evidence_mode(llm_server, agent_settings):
    """The real llama.cpp server with the bundled SmolLM2-135M: the probe lands in evidence mode, once."""
    from agent.llm import chat_model
    from agent.mode_probe import _memory, resolve_mode

    settings = _with(agent_settings, llm={"base_url": llm_server, "timeout_s": 300, "max_retries": 0},
                     agent={"mode": "auto", "probe_timeout_s": 600})
    model = chat_model(settings)
    _memory.clear()
    mode, info = await resolve_mode(settings, model)
    print("PROBE:", info)
    assert mode == "evidence" and info["source"] == "probe", info
    assert not (info["structured"] and info["tools"])
    cached = (settings.data_dir / "mode_probe.json").read_text()
    assert llm_server in cached and '"evidence"' in cached
    _memory.clear()  # a new process reads the verdict from data_dir instead of probing again
    mode2, info2 = await resolve_mode(settings, model)
    assert mode2 == "evidence" and info2["source"] == "cached"
    # Close the model's HTTP client on this test's event loop: collected later, it would close its connections on
    # the next test's loop and fail there ("Event loop is closed").
    await model.root_async_client.close()


@pytest.mark.slow
@pytest.mark.timeout(2400)
async def test_end_to_end_llama_cpp_qdrant_and_mcp(llm_server, sample_kb, tiny_esm_checkpoint, tmp_path):
    """Evidence mode on the real stack: the answers are the passages' own sentences for the
    question, and the sequence answer joins the motif annotation with the mutation."""
    settings = _with(sample_kb.settings,
                     llm={"base_url": llm_server, "max_tokens": 160, "timeout_s": 900, "max_retries": 0},
                     retrieval={"k": 4},
                     sequence={"esm_model": str(tiny_esm_checkpoint), "esm_device": "cpu"},
                     agent={"checkpoint_url": f"sqlite:///{tmp_path / 'ckpt.sqlite'}", "max_rounds": 1,
                            "max_context_passages": 4, "time_limit_s": 1800, "mode": "evidence"})
    svc = AgentService(settings, knowledge_base=sample_kb)
    question = ("What do the conserved motifs of the CRESS-DNA virus Rep protein do in rolling-circle "
                "replication?")
    try:
        lit = await svc.run(question, thread_id="e2e")
        seq_events = [e async for e in svc.stream("Is this a CRESS Rep, and what does Y96F do?\n" + PCV2)]
        history = await svc.history("e2e")
    finally:
        await svc.aclose()
    from agent.events import RunResult
    from agent.sentences import whole_sentences

    seq = RunResult.model_validate(seq_events[-1].data)
    for r in (lit, seq):  # what the run did, for the log
        for e in r.trace:
            if e.type == "step":
                print(e.node, round(e.data["duration_ms"]), {k: e.data.get(k) for k in ("route", "mode", "model",
                                                                                 "queries", "sentences")})
        print("ANSWER:", r.answer)
    assert lit.mode == seq.mode == "evidence" and lit.answer_mode == seq.answer_mode == "evidence"
    assert lit.usage["llm_calls"] == 0 and seq.usage["llm_calls"] == 0  # no generation at all

    # a literature question retrieves from the real knowledge base ...
    retrieve = [e for e in lit.trace if e.type == "step" and e.node == "retrieve"]
    assert retrieve and any(retrieve[0].data["hits"].values())
    # ... and every answer line is a whole sentence of the passage it cites, about the question
    lines = [ln[2:] for ln in lit.answer.splitlines() if ln.startswith("- ")]
    assert len(lines) >= 2
    for ln in lines:
        body, ref = ln.rsplit(" [", 1)
        passage = lit.passages[int(ref.rstrip("]")[1:]) - 1]
        # a unit joined from two sentences ("... plasmids. [P5] They found ...") cites after each: one unit of it
        assert re.sub(rf" \[{ref.rstrip(']')}\](?= )", "", body) in whole_sentences(passage.text), ln
        assert re.search(r"motif|Rep|replicat|nick|origin|helicase", body, re.I), ln
    chosen = [e for e in lit.trace if e.type == "step" and e.node == "answer"][0].data["sentences"]
    assert all(c["score"] >= 0.3 for c in chosen)
    # a sequence question reaches the tools through the real MCP server, and the answer joins motif + mutation
    esm = [t for t in seq.tool_results if t.name == "score_mutations"]
    assert esm and esm[0].ok and esm[0].content["model"] == "esm2_t2_tiny_random"
    assert re.search(r"Y96 lies in RCR motif III \(YCSK\w*, 96-\d+\), the catalytic tyrosine \[T\d\]", seq.answer), seq.answer
    assert "Error" not in seq.answer and "Traceback" not in seq.answer
    # the trace has every node that ran, with timings and token counts
    nodes = {e.node for e in seq.trace if e.type == "step"} | {e.node for e in lit.trace if e.type == "step"}
    assert set(NODES) - {"corrective"} <= nodes
    assert all("duration_ms" in e.data and "tokens" in e.data for e in seq.trace if e.type == "step")
    assert [h["role"] for h in history] == ["user", "assistant"]


@pytest.mark.slow
@pytest.mark.timeout(2400)
async def test_agentic_mode_on_the_real_llama_cpp_server(llm_server, sample_kb, tmp_path):
    """Agentic mode forced onto the bundled SmolLM2-135M over HTTP: every stage asks the real model, what the
    model returns is used or caught (never an exception, never prompt or error text in the answer), and the
    answer that comes back has been checked claim by claim."""
    from agent import prompts

    settings = _with(sample_kb.settings,
                     llm={"base_url": llm_server, "max_tokens": 64, "timeout_s": 900, "max_retries": 0},
                     retrieval={"k": 2},
                     agent={"checkpoint_url": f"sqlite:///{tmp_path / 'ckpt.sqlite'}", "max_rounds": 1,
                            "max_context_passages": 2, "time_limit_s": 1800, "mode": "agentic",
                            "claim_policy": "mark"})
    svc = AgentService(settings, knowledge_base=sample_kb)
    try:
        r = await svc.run("What does the Rep protein of circoviruses do at the origin of replication?")
    finally:
        await svc.aclose()
    steps = {}
    for e in r.trace:
        if e.type == "step":
            steps.setdefault(e.node, e.data)
            print(e.node, round(e.data["duration_ms"]), {k: e.data.get(k) for k in ("route", "llm", "model",
                                                                                     "answer_mode", "regenerated")})
    print("ANSWER:", r.answer)
    assert r.mode == "agentic" and r.answer_mode in ("model", "fallback")
    # the model was asked at route, grade and answer (not skipped by heuristics as in evidence or guarded mode)
    assert not steps["route"]["llm"].startswith("skipped"), steps["route"]["llm"]
    assert not str(steps["grade"]["model"]).startswith("skipped"), steps["grade"]["model"]
    assert r.usage["llm_calls"] >= 3 and r.usage["completion_tokens"] > 0, r.usage
    # what reached the user was checked: every claim has a verdict, and the unsupported ones are marked
    assert steps["verify"]["claim_checker"] == "agent.claims" and r.claims
    for c in r.claims:
        if not c["supported"] and not c.get("exempt"):
            assert "⚠ [unsupported]" in r.answer
    for leak in ("Traceback", "ClosedResourceError", prompts.ROUTE_SYSTEM[:60], prompts.TOOLS_SYSTEM[:60]):
        assert leak not in r.answer, leak
    assert re.search(r"\[P\d\]", r.answer), r.answer  # it answers from the library, with citations
