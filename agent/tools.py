"""The agent's tools: MCP servers loaded with langchain-mcp-adapters, and how one tool call is executed.

``MCPManager`` keeps one long-lived, supervised MCP session per configured server (stdio subprocess or
streamable HTTP), so the sequence server loads ESM-2 once, not once per call. A server that fails to start
or dies is reported in ``status`` (down, restarting), its tools' calls fail at once with a plain sentence,
and it is restarted in the background with backoff (`agent.mcp_supervisor`); nothing here raises into the graph.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel, SecretStr

from agent.mcp_supervisor import ServerUnavailable, SupervisedServer
from agent.mcp_supervisor import describe as _describe
from agent.settings import Settings, iter_settings_rows

log = logging.getLogger(__name__)

SERVER_MODULES = {
    "sequence": "mcp_servers.sequence.server",
    "literature": "mcp_servers.literature.server",
}
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def settings_env(settings: Settings) -> dict[str, str]:
    """This process's environment plus every effective setting as BIOAGENT_* variables (for subprocesses)."""
    env = dict(os.environ)
    for var, _default, _desc in iter_settings_rows():
        keys = var.removeprefix("BIOAGENT_").lower().split("__")
        value: Any = settings
        try:
            for key in keys:
                value = getattr(value, key)
        except AttributeError:
            continue
        if value is None or isinstance(value, BaseModel):
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, bool):
            env[var] = "true" if value else "false"
        elif isinstance(value, (list, tuple, set, dict)):
            env[var] = json.dumps(list(value) if isinstance(value, (set, tuple)) else value, default=str)
        else:
            env[var] = str(value)
    env.setdefault("BIOAGENT_LOG_LEVEL", "WARNING")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def connections(settings: Settings) -> dict[str, dict[str, Any]]:
    """langchain-mcp-adapters connection configs for the enabled servers."""
    out: dict[str, dict[str, Any]] = {}
    for name, module in SERVER_MODULES.items():
        cfg = getattr(settings.mcp, name)
        if not cfg.enabled:
            continue
        if cfg.transport == "http":
            if not cfg.url:
                raise ValueError(f"BIOAGENT_MCP__{name.upper()}__URL must be set when its transport is http")
            conn: dict[str, Any] = {"transport": "streamable_http", "url": cfg.url}
            if settings.mcp.bearer_token is not None:
                conn["headers"] = {"Authorization": f"Bearer {settings.mcp.bearer_token.get_secret_value()}"}
        else:
            conn = {"transport": "stdio", "command": sys.executable, "args": ["-m", module],
                    "env": settings_env(settings), "cwd": str(PROJECT_ROOT)}
        out[name] = conn
    return out


class MCPManager:
    """One supervised MCP server per configured server (see `agent.mcp_supervisor`), and their tools."""

    def __init__(self, settings: Settings, start_timeout_s: float = 90.0):
        self.settings = settings
        self.start_timeout_s = start_timeout_s
        self.servers: dict[str, SupervisedServer] = {}
        self._status: dict[str, dict[str, Any]] = {}
        self._started = False
        self._lock = asyncio.Lock()

    async def start(self) -> list[BaseTool]:
        async with self._lock:
            if self._started:
                return self.tools
            self._started = True
            try:
                conns = connections(self.settings)
            except ValueError as exc:
                for name in SERVER_MODULES:
                    self._status[name] = {"ok": False, "detail": str(exc)}
                return self.tools
            for name in SERVER_MODULES:
                if name not in conns:
                    self._status[name] = {"ok": False, "detail": "disabled in settings"}
            mcp = self.settings.mcp
            for name, conn in conns.items():
                self.servers[name] = SupervisedServer(name, conn, ping_interval_s=mcp.ping_interval_s,
                                                      ping_timeout_s=mcp.ping_timeout_s,
                                                      max_backoff_s=mcp.restart_backoff_max_s)
            await asyncio.gather(*(s.start(self.start_timeout_s) for s in self.servers.values()))
            return self.tools

    @property
    def tools(self) -> list[BaseTool]:
        """The tools of every server that has come up once (stable objects: they survive restarts)."""
        return [t for s in self.servers.values() for t in s.tools]

    @property
    def status(self) -> dict[str, dict[str, Any]]:
        """Per server: ok, state (up / down / starting), detail and restarts; what /readyz and the trace show."""
        return {**self._status, **{name: s.status for name, s in self.servers.items()}}

    def server_of(self, tool_name: str) -> str | None:
        for t in self.tools:
            if t.name == tool_name:
                return (t.metadata or {}).get("server")
        return None

    async def aclose(self) -> None:
        await asyncio.gather(*(s.aclose() for s in self.servers.values()), return_exceptions=True)
        self.servers.clear()
        self._status.clear()
        self._started = False


def parse_tool_output(message: ToolMessage | Any) -> tuple[bool, Any, str | None]:
    """(ok, content, error) from what a LangChain tool returned."""
    if isinstance(message, ToolMessage):
        artifact = message.artifact
        content = message.content
        if message.status == "error":
            return False, None, _content_text(content) or "tool error"
        if isinstance(artifact, dict) and artifact.get("structured_content") is not None:
            sc = artifact["structured_content"]
            if isinstance(sc, dict) and set(sc) == {"result"}:
                sc = sc["result"]
            return True, sc, None
        text = _content_text(content)
        return True, _maybe_json(text), None
    if isinstance(message, str):
        return True, _maybe_json(message), None
    return True, message, None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(block.get("text", ""))
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return str(content)


def _maybe_json(text: str) -> Any:
    t = text.strip()
    if t[:1] in "{[":
        try:
            return json.loads(t)
        except ValueError:
            return text
    return text


async def execute_tool_call(tool: BaseTool | None, call: dict[str, Any], ref: str, timeout_s: float,
                            unavailable_detail: str | None = None) -> dict[str, Any]:
    """Run one tool call; every failure becomes a ToolResult dict with ok=False and a readable error."""
    name = call["name"]
    args = call.get("args") or {}
    start = time.perf_counter()
    result: dict[str, Any] = {"id": ref, "name": name, "args": args, "ok": False, "content": None, "error": None,
                              "duration_ms": 0.0}
    if tool is None:
        result["error"] = unavailable_detail or f"tool {name!r} is not available"
        return result
    try:
        out = await asyncio.wait_for(
            tool.ainvoke({"type": "tool_call", "name": name, "args": args, "id": call.get("id") or ref}),
            timeout=timeout_s,
        )
        ok, content, error = parse_tool_output(out)
        result.update(ok=ok, content=content, error=error)
    except ServerUnavailable as exc:
        result.update(error=str(exc), error_code="server_unavailable", server=exc.server, detail=exc.detail)
    except asyncio.TimeoutError:
        result["error"] = f"tool {name} timed out after {timeout_s:.0f} s"
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - validation errors, dead servers, transport errors
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        result["error"] = f"tool {name} failed: {_describe(exc)}"
    result["duration_ms"] = round((time.perf_counter() - start) * 1000, 2)
    return result
