"""The agent against the real servers.

- MCP: the real sequence and literature servers over stdio (tiny random ESM-2), and a server that cannot start.
- End to end (slow; CI runs it): the real llama.cpp server with the bundled SmolLM2 GGUF over HTTP, the real
  embedded Qdrant knowledge base with the sample library, and the real MCP servers over stdio.
"""

from __future__ import annotations

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
    assert r.answer


@pytest.mark.slow
@pytest.mark.timeout(2400)
async def test_end_to_end_llama_cpp_qdrant_and_mcp(llm_server, sample_kb, tiny_esm_checkpoint, tmp_path):
    settings = _with(sample_kb.settings,
                     llm={"base_url": llm_server, "max_tokens": 160, "timeout_s": 900, "max_retries": 0},
                     retrieval={"k": 4},
                     sequence={"esm_model": str(tiny_esm_checkpoint), "esm_device": "cpu"},
                     agent={"checkpoint_url": f"sqlite:///{tmp_path / 'ckpt.sqlite'}", "max_rounds": 1,
                            "max_context_passages": 4, "time_limit_s": 1800})
    svc = AgentService(settings, knowledge_base=sample_kb)
    try:
        lit = await svc.run("What do the conserved motifs of the CRESS-DNA virus Rep protein do in rolling-circle "
                            "replication?", thread_id="e2e")
        seq_events = [e async for e in svc.stream("Is this a CRESS Rep, and what does Y96F do?\n" + PCV2)]
        history = await svc.history("e2e")
    finally:
        await svc.aclose()
    from agent.events import RunResult

    seq = RunResult.model_validate(seq_events[-1].data)
    for r in (lit, seq):  # what the small model did, for the log
        for e in r.trace:
            if e.type == "step":
                print(e.node, round(e.data["duration_ms"]), {k: e.data.get(k) for k in ("route", "llm", "model", "queries",
                                                                                 "fallback_reasons")})
        print("ANSWER:", r.answer[:400])

    # a literature question retrieves from the real knowledge base
    retrieve = [e for e in lit.trace if e.type == "step" and e.node == "retrieve"]
    assert retrieve and any(retrieve[0].data["hits"].values())
    assert lit.passages and lit.answer.strip()
    assert set(c.ref for c in lit.citations) <= {f"P{i}" for i in range(1, len(lit.passages) + 1)}
    assert lit.model and lit.usage["completion_tokens"] > 0
    # a sequence question reaches the ESM tool through the real MCP server
    esm = [t for t in seq.tool_results if t.name == "score_mutations"]
    assert esm and esm[0].ok and esm[0].content["model"] == "esm2_t2_tiny_random"
    # the trace has every node, with timings and token counts
    nodes = {e.node for e in seq.trace if e.type == "step"} | {e.node for e in lit.trace if e.type == "step"}
    assert set(NODES) <= nodes
    assert all("duration_ms" in e.data and "tokens" in e.data for e in seq.trace if e.type == "step")
    assert any(e.type == "token" for e in seq_events) or seq.answer
    assert [h["role"] for h in history] == ["user", "assistant"]
