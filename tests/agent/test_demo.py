"""`bioagent demo` and evidence mode without an LLM: the real sample library (MiniLM + embedded Qdrant) and the real
MCP servers over stdio (tiny ESM-2). Evidence mode makes no model calls, so nothing may start or probe the LLM
server: every path to it (``ensure_endpoint``, ``chat_model``) goes through ``agent.llm._resolve``, which these
tests turn into a failure."""

from __future__ import annotations

import re

import mcp.client.stdio  # noqa: F401 - imported before CliRunner swaps sys.stderr: its default errlog is bound then
import pytest
from typer.testing import CliRunner

import agent.ask_cli as ask_cli
import agent.llm as llm_mod
from agent.cli import app
from agent.runner import AgentService
from tests.fixtures.agent import FakeKnowledgeBase, ToolRecorder, fake_tools
from tests.fixtures.llm import free_port

PCV2 = ask_cli.DEMO_SEQUENCE_QUESTION.split("\n", 1)[1]


def _with(settings, **sections):
    return settings.model_copy(update={name: getattr(settings, name).model_copy(update=values)
                                       for name, values in sections.items()})


@pytest.fixture
def llm_calls(monkeypatch) -> list[str]:
    """Every attempt to resolve the LLM endpoint (start the embedded server, or check a remote one)."""
    calls: list[str] = []
    real = llm_mod._resolve

    def spy(settings):
        calls.append(settings.llm.base_url or "embedded")
        if settings.llm.base_url is None:
            raise AssertionError("the embedded LLM server was started")
        return real(settings)

    monkeypatch.setattr(llm_mod, "_resolve", spy)
    return calls


@pytest.fixture
def demo_settings(sample_kb, tiny_esm_checkpoint, tmp_path):
    """The sample library's settings on embedded defaults (auto mode, no endpoint, bundled model)."""
    return _with(sample_kb.settings, llm={"base_url": None, "gguf_path": None},
                 sequence={"esm_model": str(tiny_esm_checkpoint), "esm_device": "cpu"},
                 agent={"mode": "auto", "checkpoint_url": f"sqlite:///{tmp_path / 'ckpt.sqlite'}"})


def _demo(monkeypatch, settings, library):
    monkeypatch.setattr(ask_cli, "make_service", lambda: AgentService(settings))
    return CliRunner().invoke(app, ["demo", "--library", str(library), "--no-trace"], env={"COLUMNS": "200"})


@pytest.mark.timeout(600)
def test_demo_on_embedded_defaults_answers_in_evidence_mode_without_starting_the_llm(
        demo_settings, sample_library_path, llm_calls, monkeypatch):
    res = _demo(monkeypatch, demo_settings, sample_library_path)
    assert res.exit_code == 0, res.output
    assert llm_calls == []
    assert "Checking the LLM endpoint" not in res.output and "LLM endpoint:" not in res.output
    assert "Evidence mode (the bundled SmolLM2-135M)" in res.output and "no LLM server is started" in res.output
    # both questions were answered from the library and the tools
    assert res.output.count("route=") == 2 and "model=None" in res.output
    assert "[P1]" in res.output and "[T1]" in res.output


def test_demo_with_an_endpoint_still_checks_it(demo_settings, sample_library_path, llm_calls, monkeypatch):
    """auto with a configured endpoint is not evidence mode: the demo checks the endpoint first, as before."""
    url = f"http://127.0.0.1:{free_port()}/v1"
    res = _demo(monkeypatch, _with(demo_settings, llm={"base_url": url, "max_retries": 0}), sample_library_path)
    assert res.exit_code == 2, res.output
    assert llm_calls == [url]
    assert "Checking the LLM endpoint" in res.output and "is not reachable" in res.output


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["evidence", "auto"])
async def test_readiness_and_report_in_evidence_mode_leave_the_llm_alone(agent_settings, llm_calls, mode):
    settings = _with(agent_settings, agent={"mode": mode}, llm={"base_url": None, "gguf_path": None})
    svc = AgentService(settings, knowledge_base=FakeKnowledgeBase(), tools=fake_tools(ToolRecorder()))
    try:
        assert not svc.uses_model()
        ready = await svc.readiness()
        report = await svc.report(PCV2, "en", scan=False, literature=False)
        result = await svc.run("What does Rep do in rolling-circle replication?")
    finally:
        await svc.aclose()
    assert ready["llm"]["ok"] and ready["llm"]["detail"].startswith("not used: evidence mode")
    assert report["data"]["mode"] == "evidence" and "summary" not in report["data"]
    assert result.mode == "evidence" and result.usage["llm_calls"] == 0
    assert llm_calls == []


@pytest.mark.anyio
async def test_a_model_mode_still_resolves_the_endpoint(agent_settings, llm_calls):
    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = _with(agent_settings, agent={"mode": "guarded"}, llm={"base_url": url, "max_retries": 0})
    svc = AgentService(settings, knowledge_base=FakeKnowledgeBase(), tools=fake_tools(ToolRecorder()))
    try:
        assert svc.uses_model()
        ready = await svc.readiness()
    finally:
        await svc.aclose()
    assert not ready["llm"]["ok"] and "is not reachable" in ready["llm"]["detail"]
    assert llm_calls == [url]


@pytest.mark.anyio
@pytest.mark.timeout(600)
async def test_demo_sequence_answer_quotes_the_library_on_the_motif_the_mutation_hits(demo_settings, sample_kb):
    """annotate_rep finds Y96 inside RCR motif III (YCSK): the library part of the answer quotes, with its
    citation, a passage sentence about motif III (its catalytic tyrosine), not only general Rep sentences."""
    from agent.sentences import whole_sentences

    svc = AgentService(demo_settings, knowledge_base=sample_kb)
    try:
        r = await svc.run(ask_cli.DEMO_SEQUENCE_QUESTION)
    finally:
        await svc.aclose()
    print(r.answer)
    assert r.mode == "evidence" and "Y96 lies in RCR motif III" in r.answer
    quoted = []
    for line in r.answer.splitlines():
        m = re.fullmatch(r"- (.+) \[P(\d+)\]", line)
        if m:
            # the passage's own whole sentence (a sentence opening with a pronoun comes with the one before it,
            # each citing the passage), never marked unsupported
            body, passage = m.group(1), r.passages[int(m.group(2)) - 1]
            body = body.replace(f" [P{m.group(2)}]", "")
            assert body in whole_sentences(passage.text), line
            quoted.append(body)
    assert quoted, r.answer
    motif3 = [q for q in quoted if re.search(r"motif[ -]III", q, re.I)]
    assert motif3, quoted
    assert any(re.search(r"tyrosine", q, re.I) for q in motif3), motif3
