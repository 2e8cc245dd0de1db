"""The runner contract: streaming events, cancellation, time limit, report, readiness, CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.events import RunResult
from agent.runner import AgentService
from tests.fixtures.agent import FakeKnowledgeBase, ScriptedChatModel, ToolRecorder, fake_tools

PCV2 = (Path(__file__).resolve().parents[1] / "data" / "agent" / "pcv2_rep.faa").read_text()
LIT_Q = "What does the Rep protein do in rolling-circle replication?"


def make(settings, model=None, recorder=None):
    return AgentService(settings, chat_model=model or ScriptedChatModel(), knowledge_base=FakeKnowledgeBase(),
                        tools=fake_tools(recorder or ToolRecorder()))


@pytest.mark.anyio
async def test_stream_yields_steps_tokens_tool_events_and_done_last(agent_settings):
    svc = make(agent_settings)
    try:
        events = [e async for e in svc.stream("Is this a Rep?\n" + PCV2, thread_id="s1")]
    finally:
        await svc.aclose()
    types = [e.type for e in events]
    assert types[-1] == "done" and types.count("done") == 1
    assert {"step", "token", "tool_call", "tool_result"} <= set(types)
    assert [e.node for e in events if e.type == "step"] == [
        "route", "rewrite", "retrieve", "grade", "plan_tools", "run_tools", "answer", "verify"]
    result = RunResult.model_validate(events[-1].data)
    streamed = "".join(e.data["text"] for e in events if e.type == "token")
    assert streamed.strip() == result.answer.strip()
    assert result.thread_id == "s1"
    json.dumps(events[-1].data)  # the done payload is JSON


@pytest.mark.anyio
async def test_cancelling_the_consumer_cancels_the_run_cleanly(agent_settings):
    model = ScriptedChatModel(latency_s=0.3)
    svc = make(agent_settings, model)
    try:
        agen = svc.stream(LIT_Q, thread_id="c1")
        first = await agen.__anext__()
        assert first.type == "step"
        await agen.aclose()  # client disconnect
        n_calls = len(model.calls)
        await asyncio.sleep(0.8)
        assert len(model.calls) == n_calls  # nothing kept running

        task = asyncio.create_task(svc.run(LIT_Q, thread_id="c2"))
        await asyncio.sleep(0.4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the service still works afterwards
        model.latency_s = 0.0
        r = await svc.run(LIT_Q, thread_id="c3")
        assert r.answer_mode == "model" and r.answer == "Rep initiates rolling-circle replication [P1]."
    finally:
        await svc.aclose()


@pytest.mark.anyio
async def test_time_limit_answers_with_what_was_found(agent_settings):
    agent_settings.agent.time_limit_s = 0.6
    model = ScriptedChatModel(latency_s=0.25)
    svc = make(agent_settings, model)
    try:
        events = [e async for e in svc.stream(LIT_Q, thread_id="slow")]
        history = await svc.history("slow")
    finally:
        await svc.aclose()
    errors = [e for e in events if e.type == "error"]
    assert errors and "time limit" in errors[0].data["message"]
    result = RunResult.model_validate(events[-1].data)
    assert result.answer_mode == "fallback"
    # what the run had found when time ran out, composed and cited (or said plainly that it found nothing)
    assert "[P1]" in result.answer or result.answer.startswith("There is not enough evidence")
    assert [h["role"] for h in history] == ["user", "assistant"]
    assert history[1]["content"] == result.answer


@pytest.mark.anyio
async def test_empty_message_is_rejected(agent_settings):
    svc = make(agent_settings)
    try:
        with pytest.raises(ValueError):
            await svc.run("   ")
    finally:
        await svc.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_report_has_every_section_and_the_figure_data(agent_settings, lang):
    rec = ToolRecorder()
    svc = make(agent_settings, recorder=rec)
    try:
        rep = await svc.report(PCV2, lang=lang)
    finally:
        await svc.aclose()
    md, data = rep["markdown"], rep["data"]
    assert sorted(rec.names()) == ["annotate_rep", "mutational_scan", "properties"]
    if lang == "zh":
        assert md.startswith("# 序列分析报告: NP_937956.1") and "CRESS Rep 判定: 是" in md and "理化性质" in md
    else:
        assert md.startswith("# Sequence report: NP_937956.1") and "CRESS Rep call: yes" in md
    assert "| RCR motif III (catalytic Tyr) | 96 | `YCSKEG` |" in md
    assert "Y96 (4.2)" in md and "[P1]" in md
    assert data["figures"]["motif_map"]["motifs"][0]["sequence"] == "FTLNN"
    assert len(data["figures"]["constraint_profile"]["values"]) == 314
    assert data["passages"][0]["ref"] == "P1"
    json.dumps(data)


@pytest.mark.anyio
async def test_report_rejects_non_protein_input(agent_settings):
    svc = make(agent_settings)
    try:
        with pytest.raises(ValueError, match="nucleotide"):
            await svc.report(">x\nATGCGTACGTAGCTAGCTAGCTAGCATCGATCGATCGA")
        with pytest.raises(ValueError, match="no protein"):
            await svc.report("hello there")
    finally:
        await svc.aclose()


@pytest.mark.anyio
async def test_readiness_reports_each_dependency(agent_settings):
    svc = make(agent_settings)
    try:
        ready = await svc.readiness()
    finally:
        await svc.aclose()
    assert set(ready) >= {"llm", "qdrant", "mcp_sequence", "mcp_literature"}
    assert all(v["ok"] for v in ready.values()), ready


@pytest.mark.anyio
async def test_no_llm_endpoint_says_what_to_set(agent_settings):
    from agent.llm import LLMUnavailable

    agent_settings.llm.base_url = "http://127.0.0.1:9/v1"
    svc = AgentService(agent_settings, knowledge_base=FakeKnowledgeBase(), tools=[])
    try:
        with pytest.raises(LLMUnavailable, match="BIOAGENT_LLM__BASE_URL"):
            await svc.run(LIT_Q)
        ready = await svc.readiness()
        assert not ready["llm"]["ok"] and "BIOAGENT_LLM__BASE_URL" in ready["llm"]["detail"]
    finally:
        await svc.aclose()


def _cli(monkeypatch, settings, model=None):
    import agent.ask_cli as ask_cli
    from agent.cli import app

    monkeypatch.setattr(ask_cli, "make_service", lambda s=None: make(settings, model))
    return app


def test_cli_ask_streams_answer_sources_and_trace(monkeypatch, agent_settings):
    app = _cli(monkeypatch, agent_settings)
    out = CliRunner().invoke(app, ["ask", LIT_Q, "--trace", "--thread", "cli-1"])
    assert out.exit_code == 0, out.output
    for node in ("route", "rewrite", "retrieve", "grade", "answer", "verify"):
        assert f"▸ {node}" in out.output
    assert "Rep initiates rolling-circle replication [P1]" in out.output
    assert "Sources" in out.output and "[P1] Rolling-circle replication by Rep" in out.output


def test_cli_ask_json(monkeypatch, agent_settings):
    app = _cli(monkeypatch, agent_settings)
    out = CliRunner().invoke(app, ["ask", LIT_Q, "--json"])
    assert out.exit_code == 0, out.output
    result = RunResult.model_validate_json(out.output)
    assert result.citations[0].ref == "P1"


def test_cli_without_llm_endpoint_exits_with_a_readable_message(monkeypatch, tmp_path):
    from agent.cli import app
    from agent.settings import get_settings

    monkeypatch.setenv("BIOAGENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BIOAGENT_LLM__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("BIOAGENT_MCP__SEQUENCE__ENABLED", "false")
    monkeypatch.setenv("BIOAGENT_MCP__LITERATURE__ENABLED", "false")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["ask", LIT_Q])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 2
    assert "BIOAGENT_LLM__BASE_URL" in out.output and "Traceback" not in out.output


def test_cli_report_writes_markdown_and_data(monkeypatch, agent_settings, tmp_path):
    app = _cli(monkeypatch, agent_settings)
    fasta = tmp_path / "rep.faa"
    fasta.write_text(PCV2)
    out_md = tmp_path / "report.md"
    out = CliRunner().invoke(app, ["report", str(fasta), "--lang", "zh", "--out", str(out_md)])
    assert out.exit_code == 0, out.output
    assert out_md.read_text().startswith("# 序列分析报告")
    assert json.loads(out_md.with_suffix(".json").read_text())["sequence"]["length"] == 314
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "missing.faa")])
    assert bad.exit_code == 2 and "no such file" in bad.output


@pytest.mark.anyio
async def test_checkpointer_choices(agent_settings, tmp_path):
    import importlib.util
    from contextlib import AsyncExitStack

    from agent.checkpoint import CheckpointerUnavailable, open_checkpointer

    async with AsyncExitStack() as stack:
        saver = await open_checkpointer(agent_settings, stack)
        assert type(saver).__name__ == "AsyncSqliteSaver"
        assert (agent_settings.data_dir / "checkpoints.sqlite").is_file()
        agent_settings.agent.checkpoint_url = f"sqlite:///{tmp_path / 'x' / 'c.db'}"
        await open_checkpointer(agent_settings, stack)
        assert (tmp_path / "x" / "c.db").is_file()
        agent_settings.agent.checkpoint_url = "memory:"
        assert type(await open_checkpointer(agent_settings, stack)).__name__ == "InMemorySaver"
        agent_settings.agent.checkpoint_url = "postgresql://user:secret@127.0.0.1:1/db"
        with pytest.raises(CheckpointerUnavailable) as err:
            await open_checkpointer(agent_settings, stack)
        assert "secret" not in str(err.value)
        if importlib.util.find_spec("langgraph.checkpoint.postgres") is None:
            assert "bioagent[postgres]" in str(err.value)
