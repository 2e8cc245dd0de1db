"""What the routes share: the agent service, the knowledge base, the accounts, metrics, runs and ingest jobs.

Every heavy piece of work (an agent run, a sequence analysis, a report, an ingest job) is an asyncio task that
goes through the same admission (:meth:`ApiContext.admit`: at most ``max_concurrent_runs`` in flight, else 429)
and the same metrics (``bioagent_runs_total{endpoint, outcome}``, ``bioagent_runs_in_progress``,
``bioagent_run_duration_seconds``). A request that waits for its task cancels it when the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from agent.api.accounts import AccountStore, User, store_path
from agent.api.errors import APIError
from agent.api.metrics import APIMetrics
from agent.api.runs import RunRecord, RunRegistry
from agent.events import RunOverrides
from agent.settings import Settings

log = logging.getLogger("agent.api")

LIBRARY_TOOLS = frozenset({"search_library", "add_to_library"})
"""MCP tools that read or write the whole library: not given to a non-admin user's run (their retrieval is
scoped to their documents by the run's knowledge-base view instead)."""


def not_found(kind: str, ident: str) -> APIError:
    return APIError(404, f"No {kind} with id {ident!r}.", type="not_found_error", code=f"{kind}_not_found")


def clamp_overrides(overrides: RunOverrides | None, settings: Settings) -> RunOverrides | None:
    """Sampling values a client chooses are rounded (0.05 steps) and ``max_tokens`` is capped at the server's
    ``BIOAGENT_LLM__MAX_TOKENS``, so that clients cannot fill the chat-model cache or the budget."""
    if overrides is None:
        return None
    update: dict[str, Any] = {}
    for key in ("temperature", "top_p"):
        value = getattr(overrides, key)
        if value is not None:
            update[key] = max(0.05, round(round(value / 0.05) * 0.05, 2)) if key == "top_p" else round(
                round(value / 0.05) * 0.05, 2)
    if overrides.max_tokens is not None:
        update["max_tokens"] = min(overrides.max_tokens, settings.llm.max_tokens)
    return overrides.model_copy(update=update)


class ApiContext:
    """One per app: created by ``create_app``, stored as ``app.state.ctx``."""

    def __init__(self, settings: Settings, metrics: APIMetrics, service: Any = None, knowledge_base: Any = None,
                 llm_unavailable: type[BaseException] = RuntimeError,
                 ingest_error: type[BaseException] = ValueError, accounts: AccountStore | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.llm_unavailable = llm_unavailable
        self.ingest_error = ingest_error
        self.started_at = int(time.time())
        self._service = service
        self.owns_service = service is None
        self._kb = knowledge_base
        self.accounts = accounts or AccountStore(store_path(settings))
        self.max_runs = settings.api.max_concurrent_runs
        self.active: set[asyncio.Task] = set()
        self.cancelled_runs = 0  # runs cancelled (client went away, or cancel)
        self.runs = RunRegistry(self)
        from agent.api.jobs import JobManager

        self.jobs = JobManager(self)
        self.shutting_down = False
        self._warmup: asyncio.Task | None = None
        self._readiness: asyncio.Task | None = None

    # -- dependencies ------------------------------------------------------------------------------------------
    @property
    def service(self):
        if self._service is None:
            from agent.runner import AgentService

            self._service = AgentService(self.settings)
        return self._service

    async def knowledge_base(self):
        """The knowledge base the API reads and writes: the injected one, else the service's, else the
        process-wide one for these settings. Loading it (embedding model) happens off the loop."""
        if self._kb is None:
            kb = getattr(self._service, "knowledge_base", None)
            if kb is None:
                from agent.context import load_knowledge_base

                kb = await asyncio.to_thread(load_knowledge_base, self.settings)
            self._kb = kb
        return self._kb

    def start_warmup(self) -> None:
        """Open the checkpointer and start the MCP servers in the background, so that the first request does not
        pay for it and ``/readyz`` reflects it; ``/healthz`` answers meanwhile."""
        start = getattr(self.service, "start", None)
        if start is None:
            return

        async def warm() -> None:
            t0 = time.perf_counter()
            try:
                await start()
                log.info("agent service ready in %.1f s", time.perf_counter() - t0)
            except Exception:  # reported by /readyz and by the first run
                log.exception("starting the agent service failed")

        self._warmup = asyncio.create_task(warm())

    async def readiness(self, timeout: float) -> dict[str, Any]:
        """The service's readiness, within ``timeout``. A check still running at the deadline is not cancelled
        (that could cut an MCP server's start short): the next call waits for the same one."""
        if self._readiness is None or self._readiness.done():
            self._readiness = asyncio.create_task(self.service.readiness())
        done, _ = await asyncio.wait({self._readiness}, timeout=timeout)
        if not done:
            return {"readiness": {"ok": False, "detail": f"the checks are still running after {timeout:g} s"}}
        return self._readiness.result()

    async def aclose(self) -> None:
        """Graceful shutdown: running answers and jobs get ``shutdown_grace_s`` to finish, then are cancelled."""
        self.shutting_down = True
        if self._warmup is not None and not self._warmup.done():
            await asyncio.wait({self._warmup}, timeout=30)
        work = [t for t in self.active if not t.done()]
        if work and self.settings.api.shutdown_grace_s > 0:
            log.info("waiting up to %g s for %d running tasks", self.settings.api.shutdown_grace_s, len(work))
            await asyncio.wait(work, timeout=self.settings.api.shutdown_grace_s)
        pending = [t for t in (self._warmup, self._readiness, *self.active) if t is not None and not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self.jobs.aclose()
        if self.owns_service and self._service is not None:
            await self._service.aclose()
        self.accounts.close()

    # -- admission, tracking, outcome --------------------------------------------------------------------------
    def admit(self) -> None:
        if self.shutting_down:
            raise APIError(503, "The server is shutting down; retry on another replica.", type="unavailable",
                           code="shutting_down", headers={"Retry-After": "1"})
        if len(self.active) >= self.max_runs:
            raise APIError(429, f"{self.max_runs} runs are already in flight; retry shortly.", type="rate_limit_error",
                           code="too_many_runs", headers={"Retry-After": "1"})

    _admit = admit

    def track(self, task: asyncio.Task) -> None:
        self.active.add(task)
        self.metrics.runs_in_progress.inc()

        def _done(t: asyncio.Task) -> None:
            self.active.discard(t)
            self.metrics.runs_in_progress.dec()

        task.add_done_callback(_done)

    def outcome(self, exc: BaseException | None) -> str:
        if exc is None:
            return "ok"
        if isinstance(exc, asyncio.CancelledError):
            return "cancelled"
        if isinstance(exc, self.llm_unavailable):
            return "llm_unavailable"
        return "error"

    async def until_disconnect(self, request: Request, task: asyncio.Future, cancel: bool = True) -> Any:
        """Await ``task``; if the client disconnects first, cancel it (unless ``cancel`` is false) and give up."""
        watcher = asyncio.create_task(_wait_for_disconnect(request))
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            if cancel:
                task.cancel()
            raise
        finally:
            watcher.cancel()
        if not task.done():  # the client went away
            if cancel:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            raise asyncio.CancelledError("client disconnected")
        return task.result()

    async def execute(self, request: Request, endpoint: str, work: Callable[[], Awaitable[Any]]) -> Any:
        """A heavy request (sequence analysis, report): admitted, tracked, measured, cancelled on disconnect."""
        self.admit()
        started = time.perf_counter()
        task = asyncio.create_task(work())
        self.track(task)
        try:
            result = await self.until_disconnect(request, task)
        except BaseException as exc:
            self.metrics.runs.labels(endpoint, self.outcome(exc)).inc()
            if isinstance(exc, asyncio.CancelledError):
                self.cancelled_runs += 1
            raise
        self.metrics.runs.labels(endpoint, "ok").inc()
        self.metrics.run_latency.labels(endpoint).observe(time.perf_counter() - started)
        return result

    # -- runs --------------------------------------------------------------------------------------------------
    async def thread_for(self, user: User, thread_id: str | None, message: str) -> str:
        """The thread a run of ``user`` goes to: a new one, or one of theirs. Someone else's is a 404, as is a
        thread from before users existed (no owner but history) for a non-admin."""
        accounts = self.accounts  # its calls may wait on a database server: off the event loop
        if thread_id is None:  # a new id: nobody else can have it
            thread_id = uuid.uuid4().hex
        elif not user.is_admin and await asyncio.to_thread(accounts.thread_owner, thread_id) is None:
            if await self.service.history(thread_id):
                raise not_found("thread", thread_id)
        if not await asyncio.to_thread(accounts.claim_thread, thread_id, user.name, message):
            raise not_found("thread", thread_id)
        return thread_id

    def run_options(self, user: User, overrides: RunOverrides | None) -> tuple[RunOverrides | None, Any]:
        """The run's overrides (clamped; library-wide tools removed for non-admins) and its knowledge-base scope."""
        from agent.kb.scope import scope_for

        overrides = clamp_overrides(overrides, self.settings)
        if user.is_admin:
            return overrides, None
        names = [t.name for t in self.service.tools()] if hasattr(self.service, "tools") else []
        wanted = overrides.tools_enabled if overrides and overrides.tools_enabled is not None else names
        allowed = [n for n in wanted if n not in LIBRARY_TOOLS]
        overrides = (overrides or RunOverrides()).model_copy(update={"tools_enabled": allowed})
        return overrides, scope_for(user.name)

    async def start_run(self, user: User, endpoint: str, message: str, thread_id: str | None,
                        overrides: RunOverrides | None, detached: bool = False) -> RunRecord:
        self.admit()
        thread_id = await self.thread_for(user, thread_id, message)
        overrides, scope = self.run_options(user, overrides)
        kwargs = {"scope": scope} if scope is not None else {}

        def make_stream():
            return self.service.stream(message, thread_id=thread_id, overrides=overrides, **kwargs)

        return self.runs.start(endpoint, make_stream, thread_id, user.name, detached=detached)

    async def first_event(self, record: RunRecord, timeout: float = 0.5) -> None:
        """Wait briefly for a run's first event, so that a failure at the very start (the LLM endpoint is down)
        becomes a proper HTTP status instead of an error inside a 200 stream."""
        waiter = asyncio.ensure_future(_first(record))
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
        if not done:
            waiter.cancel()
            return
        if record.status == "failed" and record.exc is not None and record.seq == 0:
            raise record.exc


async def _first(record: RunRecord) -> None:
    try:
        async for _ in record.follow(0):
            return
    except Exception:  # noqa: BLE001 - the caller reads the record's status
        return


async def _wait_for_disconnect(request: Request) -> None:
    """Returns when the client disconnects (the body has been read already, so the next message is that)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
        await asyncio.sleep(0.05)  # not expected after the body; never spin
