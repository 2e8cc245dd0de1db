"""One MCP server kept alive: its session, health pings, restarts with backoff, and stable tools.

`SupervisedServer` owns the session of one MCP server (a stdio subprocess or a streamable-HTTP URL) in its own
task, which opens and closes it (anyio cancel scopes must exit in the task that entered them). It pings the
server every ``ping_interval_s``; a failed or late ping, a broken transport during a call, or the process
exiting marks the server down, and the task opens a new session after a backoff (1, 2, 4 ... s, at most
``max_backoff_s``), for as long as the manager lives.

The LangChain tools are loaded once, with this object as their "session": langchain-mcp-adapters' tools only
call ``session.call_tool``, so the same tool objects keep working across restarts, and a call while the server
is down fails at once with `ServerUnavailable` (a plain sentence, no exception class names) instead of hanging.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from langchain_core.tools import BaseTool

log = logging.getLogger(__name__)

State = Literal["starting", "up", "down", "closed"]
LABELS = {
    "sequence": {"en": "The sequence analysis server", "zh": "序列分析服务"},
    "literature": {"en": "The literature server", "zh": "文献服务"},
}


class ServerUnavailable(RuntimeError):
    """A tool's MCP server is down or restarting. ``str()`` is a sentence for users; ``detail`` is for the trace."""

    def __init__(self, server: str, detail: str = ""):
        self.server = server
        self.detail = detail
        super().__init__(unavailable_line(server, "en"))


def unavailable_line(server: str, lang: str = "en") -> str:
    """The one line an answer shows for a server that is down, in the user's language."""
    label = LABELS.get(server, {"en": f"The {server} server", "zh": f"{server} 服务"})
    if lang == "zh":
        return f"{label['zh']}暂时不可用，正在自动重启；请稍后重试。"
    return f"{label['en']} is unavailable right now and is being restarted; try again in a few seconds."


def describe(exc: BaseException) -> str:
    """A readable one-line message, unwrapping exception groups (anyio task groups wrap errors)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    msg = str(exc).strip()
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


class SupervisedServer:
    """The session of one MCP server, restarted when it dies; also the "session" its tools call through."""

    def __init__(self, name: str, connection: dict[str, Any], *, ping_interval_s: float = 2.0,
                 ping_timeout_s: float = 3.0, max_backoff_s: float = 30.0):
        self.name = name
        self.connection = connection
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.max_backoff_s = max_backoff_s
        self.state: State = "starting"
        self.detail = f"MCP {name} server starting"
        self.restarts = 0
        self.tools: list[BaseTool] = []
        self._session: Any = None
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._closing = asyncio.Event()
        self._first = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task | None = None

    # ---------------------------------------------------------------------------------------------- lifecycle
    async def start(self, timeout_s: float) -> bool:
        """Start supervising; wait up to `timeout_s` for the first session. False: down (restarts continue)."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"mcp-{self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(self._first), timeout_s)
        except (TimeoutError, asyncio.TimeoutError):
            if self.state == "starting":
                self.detail = (f"MCP {self.name} server unavailable ({self.where}): did not start within "
                               f"{timeout_s:.0f} s; still trying")
        return self.state == "up"

    async def aclose(self) -> None:
        self._closing.set()
        self._down.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except (TimeoutError, asyncio.TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        self.state = "closed"
        self.detail = "closed"

    def mark_down(self, reason: str) -> None:
        """The server is unusable (failed ping, broken transport): report it and let the task restart it."""
        if self.state == "up":
            log.warning("MCP %s server down: %s", self.name, reason)
            self.state = "down"
            self.detail = f"MCP {self.name} server down ({reason}); restarting"
        self._up.clear()
        self._down.set()

    @property
    def status(self) -> dict[str, Any]:
        ok = self.state == "up"
        detail = f"{len(self.tools)} tools: " + ", ".join(t.name for t in self.tools) if ok else self.detail
        return {"ok": ok, "state": self.state, "detail": detail, "restarts": self.restarts}

    @property
    def where(self) -> str:
        conn = self.connection
        return conn.get("url") or " ".join([conn.get("command", ""), *conn.get("args", [])])

    # ------------------------------------------------------------------------------------- supervision loop
    async def _supervise(self) -> None:
        attempt = 0
        while not self._closing.is_set():
            started = await self._one_session()
            if self._closing.is_set():
                break
            attempt = 0 if started else attempt + 1
            delay = min(self.max_backoff_s, 2.0 ** max(0, attempt - 1)) if attempt else 0.5
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
            except (TimeoutError, asyncio.TimeoutError):
                pass
            self.restarts += 1
        self._session = None

    async def _one_session(self) -> bool:
        """Open a session, serve it until it fails or closing; True if it came up at all."""
        from langchain_mcp_adapters.client import MultiServerMCPClient
        from langchain_mcp_adapters.tools import load_mcp_tools

        came_up = False
        self._down.clear()
        try:
            async with MultiServerMCPClient({self.name: self.connection}).session(self.name) as session:
                self._session = session
                if not self.tools:
                    tools = await load_mcp_tools(self, server_name=self.name)
                    for t in tools:
                        t.metadata = {**(t.metadata or {}), "server": self.name}
                    self.tools = tools
                came_up = True
                self.state, self.detail = "up", "up"
                self._up.set()
                if not self._first.done():
                    self._first.set_result(True)
                await self._watch(session)
        except BaseException as exc:  # noqa: BLE001 - every failure means "restart", never "raise"
            if isinstance(exc, asyncio.CancelledError) and self._closing.is_set():
                raise
            reason = describe(exc)
            log.warning("MCP %s server session ended: %s", self.name, reason)
            if self.state != "closed":
                self.state = "down"
                self.detail = (f"MCP {self.name} server down ({reason}); restarting" if came_up else
                               f"MCP {self.name} server unavailable ({self.where}): {reason}; retrying")
        finally:
            self._session = None
            self._up.clear()
            self._down.set()  # calls still waiting on this session end now
        if not came_up and not self._first.done():
            self._first.set_result(False)
        if came_up and self.state == "up":
            self.state, self.detail = "down", f"MCP {self.name} server session closed; restarting"
        return came_up

    async def _watch(self, session: Any) -> None:
        """Return when the server must be restarted (or the manager closes): failed ping or mark_down."""
        while not self._closing.is_set():
            try:
                await asyncio.wait_for(self._down.wait(), self.ping_interval_s)
                return  # mark_down or closing
            except (TimeoutError, asyncio.TimeoutError):
                pass
            try:
                await asyncio.wait_for(session.send_ping(), self.ping_timeout_s)
            except (TimeoutError, asyncio.TimeoutError):
                self.mark_down(f"no answer to a ping within {self.ping_timeout_s:.0f} s")
                return
            except Exception as exc:  # noqa: BLE001
                self.mark_down(f"ping failed: {describe(exc)}")
                return

    # ------------------------------------------------------------- the "session" the LangChain tools call
    async def list_tools(self, cursor: str | None = None) -> Any:
        if self._session is None:
            raise ServerUnavailable(self.name, self.detail)
        return await self._session.list_tools(cursor=cursor)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Call the tool on the live session; fail at once while down, and give up when the server dies."""
        session = self._session
        if self.state != "up" or session is None:
            raise ServerUnavailable(self.name, self.detail)
        call = asyncio.ensure_future(session.call_tool(name, arguments, **kwargs))
        down = asyncio.ensure_future(self._down.wait())
        try:
            await asyncio.wait({call, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            down.cancel()
        if not call.done():
            # Not awaited: a call on a dead transport may not end promptly even when cancelled.
            call.cancel()
            call.add_done_callback(_consume)
            raise ServerUnavailable(self.name, self.detail)
        try:
            return call.result()
        except Exception as exc:
            if _is_transport_failure(exc):
                self.mark_down(f"call {name} failed: {describe(exc)}")
                raise ServerUnavailable(self.name, describe(exc)) from None
            raise


def _consume(task: asyncio.Future) -> None:
    """Retrieve an abandoned call's outcome so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


def _is_transport_failure(exc: BaseException) -> bool:
    """Broken pipes and closed streams (server gone), not tool errors the server reported."""
    import anyio
    import httpx

    if isinstance(exc, BaseExceptionGroup):
        return any(_is_transport_failure(e) for e in exc.exceptions)
    transport = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, BrokenPipeError,
                 ConnectionError, EOFError, httpx.TransportError)
    if isinstance(exc, transport):
        return True
    try:
        from mcp.shared.exceptions import McpError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, McpError) and "connection closed" in str(exc).lower()
