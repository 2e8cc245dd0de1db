"""Supervised MCP servers: the real sequence server is killed mid-conversation and comes back.

Over stdio the manager owns the server process; over streamable HTTP the server is a separate process that goes
away and is started again on the same port. In both cases the next call must fail within 5 s with a plain
sentence (no exception class names), the status must say the server is down, and a call after the restart
must succeed with the same tool objects.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent.mcp_supervisor import unavailable_line
from agent.tools import MCPManager, execute_tool_call
from tests.fixtures.llm import free_port

pytestmark = pytest.mark.anyio

PCV2 = (Path(__file__).resolve().parents[1] / "data" / "agent" / "pcv2_rep.faa").read_text()
EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]+(Error|Exception|Group)\b")


def _settings(settings, **mcp):
    seq = settings.mcp.sequence.model_copy(update=mcp.pop("sequence", {}))
    lit = settings.mcp.literature.model_copy(update={"enabled": False})
    return settings.model_copy(update={"mcp": settings.mcp.model_copy(
        update={"sequence": seq, "literature": lit, "ping_interval_s": 0.5, "ping_timeout_s": 2.0,
                "restart_backoff_max_s": 2.0, **mcp})})


def _children_running(module: str) -> list[int]:
    """PIDs of this process's live children whose command line runs `python -m module` (its stdio server)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, ppid = stat[0], int(stat[1])
        if module.encode() in cmd and state != "Z" and ppid == os.getpid():
            pids.append(int(entry.name))
    return pids


async def _call(manager: MCPManager, name: str = "annotate_rep") -> tuple[dict, float]:
    tool = next(t for t in manager.tools if t.name == name)
    t0 = time.perf_counter()
    result = await execute_tool_call(tool, {"name": name, "args": {"sequence": PCV2}}, "T1", 60)
    return result, time.perf_counter() - t0


async def _until_up(manager: MCPManager, server: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if manager.status[server]["ok"]:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{server} did not come back: {manager.status[server]}")


def _assert_plain_failure(result: dict, elapsed: float) -> None:
    assert not result["ok"] and result.get("error_code") == "server_unavailable", result["error"]
    assert elapsed <= 5.0, f"a call to a dead server took {elapsed:.1f} s"
    assert result["error"] == unavailable_line("sequence", "en")
    assert not EXCEPTION_NAME.search(result["error"]), result["error"]
    assert result["detail"]  # the technical reason goes to the trace


@pytest.mark.timeout(300)
async def test_killed_stdio_server_fails_fast_then_restarts(settings, tiny_esm_checkpoint):
    s = _settings(settings)
    s = s.model_copy(update={"sequence": s.sequence.model_copy(update={"esm_model": str(tiny_esm_checkpoint),
                                                                       "esm_device": "cpu"})})
    manager = MCPManager(s)
    try:
        await manager.start()
        assert manager.status["sequence"]["ok"], manager.status
        first, _ = await _call(manager)
        assert first["ok"] and first["content"]["records"][0]["call"] == "yes"
        tools_before = list(manager.tools)

        pids = _children_running("mcp_servers.sequence.server")
        assert len(pids) == 1, pids
        os.kill(pids[0], signal.SIGKILL)

        failed, elapsed = await _call(manager)  # the very next call, right after the kill
        print(f"stdio: call after kill failed in {elapsed:.2f} s")
        _assert_plain_failure(failed, elapsed)
        assert manager.status["sequence"]["ok"] is False
        assert manager.status["sequence"]["state"] in ("down", "starting")

        t0 = time.perf_counter()
        await _until_up(manager, "sequence")
        print(f"stdio: server back after {time.perf_counter() - t0:.1f} s")
        assert manager.status["sequence"]["restarts"] >= 1
        again, _ = await _call(manager)
        assert again["ok"], again
        assert again["content"]["records"][0]["call"] == "yes"
        assert manager.tools == tools_before  # the same tool objects work across the restart
        new_pids = _children_running("mcp_servers.sequence.server")
        assert len(new_pids) == 1 and new_pids != pids
    finally:
        await manager.aclose()
    assert not _children_running("mcp_servers.sequence.server")  # closing the manager ends the server


def _start_http_server(port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "mcp_servers.sequence.server", "--transport", "http",
                             "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise AssertionError("the HTTP MCP server exited while starting")
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the HTTP MCP server did not start")


@pytest.mark.timeout(300)
async def test_http_server_that_goes_away_fails_fast_and_is_used_again_when_back(settings):
    from agent.tools import settings_env

    port = free_port()
    s = _settings(settings, sequence={"transport": "http", "url": f"http://127.0.0.1:{port}/mcp"})
    env = settings_env(s)
    proc = _start_http_server(port, env)
    manager = MCPManager(s)
    try:
        await manager.start()
        ok, _ = await _call(manager)
        assert ok["ok"], ok
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        failed, elapsed = await _call(manager)
        print(f"http: call after kill failed in {elapsed:.2f} s")
        _assert_plain_failure(failed, elapsed)
        assert manager.status["sequence"]["ok"] is False

        proc = _start_http_server(port, env)
        await _until_up(manager, "sequence")
        back, _ = await _call(manager)
        assert back["ok"], back
    finally:
        await manager.aclose()
        proc.kill()
        proc.wait(timeout=10)


def test_unavailable_line_is_in_the_users_language():
    assert "序列分析服务" in unavailable_line("sequence", "zh")
    assert unavailable_line("literature", "en").startswith("The literature server is unavailable")


@pytest.mark.timeout(300)
async def test_a_question_after_the_kill_is_answered_in_seconds_and_one_after_the_restart_works(
        agent_settings, tiny_esm_checkpoint):
    from agent.events import RunOverrides
    from agent.runner import AgentService
    from tests.fixtures.agent import FakeKnowledgeBase, ScriptedChatModel

    s = _settings(agent_settings)
    s = s.model_copy(update={"sequence": s.sequence.model_copy(update={"esm_model": str(tiny_esm_checkpoint),
                                                                       "esm_device": "cpu"})})
    svc = AgentService(s, chat_model=ScriptedChatModel(), knowledge_base=FakeKnowledgeBase())
    evidence = RunOverrides(mode="evidence")
    try:
        first = await svc.run("Is this a Rep protein?\n" + PCV2, overrides=evidence)
        assert all(t.ok for t in first.tool_results)
        os.kill(_children_running("mcp_servers.sequence.server")[0], signal.SIGKILL)

        t0 = time.perf_counter()
        down = await svc.run("这是 Rep 蛋白吗？\n" + PCV2, overrides=evidence)
        elapsed = time.perf_counter() - t0
        print(f"agent: question after kill answered in {elapsed:.2f} s")
        assert elapsed <= 5.0
        assert {t.error_code for t in down.tool_results} == {"server_unavailable"}
        assert "服务正在自动重启" in down.answer  # the user's language
        assert not EXCEPTION_NAME.search(down.answer), down.answer
        ready = await svc.readiness()
        assert ready["mcp_sequence"]["ok"] is False

        await _until_up(svc._mcp, "sequence")
        back = await svc.run("Is this a Rep protein?\n" + PCV2, overrides=evidence)
        assert all(t.ok for t in back.tool_results), [t.error for t in back.tool_results]
        assert "restarting" not in back.answer
    finally:
        await svc.aclose()
