"""What the routes share: the agent service, the knowledge base, metrics, and the runs in flight.

Each run is its own asyncio task. A streaming run's task feeds a bounded queue that the HTTP response reads;
when the client goes away the response is cancelled and cancels the run's task, which cancels the model call
in progress. A non-streaming run is raced against the client's disconnect in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from agent.api.errors import APIError
from agent.api.metrics import APIMetrics
from agent.events import RunOverrides, RunResult, TraceEvent
from agent.settings import Settings

log = logging.getLogger("agent.api")

_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class ApiContext:
    """One per app: created by ``create_app``, stored as ``app.state.ctx``."""

    def __init__(
        self,
        settings: Settings,
        metrics: APIMetrics,
        service: Any = None,
        knowledge_base: Any = None,
        llm_unavailable: type[BaseException] = RuntimeError,
        ingest_error: type[BaseException] = ValueError,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.llm_unavailable = llm_unavailable
        self.ingest_error = ingest_error
        self.started_at = int(time.time())
        self._service = service
        self.owns_service = service is None
        self._kb = knowledge_base
        self.ingest_lock = asyncio.Lock()
        self.max_runs = settings.api.max_concurrent_runs
        self.active: set[asyncio.Task] = set()
        self.cancelled_runs = 0  # runs cancelled because their client went away
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
        """What ``POST /v1/ingest`` writes to: the injected one, else the process-wide knowledge base for these
        settings (the same instance the agent searches). Loading it (embedding model) happens off the loop."""
        if self._kb is None:
            kb = getattr(self._service, "knowledge_base", None)
            if kb is None:
                from agent.context import load_knowledge_base

                kb = await asyncio.to_thread(load_knowledge_base, self.settings)
            self._kb = kb
        return self._kb

    def start_warmup(self) -> None:
        """Open the checkpointer and start the MCP servers in the background (the service the app built), so that
        the first request does not pay for it and ``/readyz`` reflects it; ``/healthz`` answers meanwhile."""
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
        task = self._readiness
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            return {"readiness": {"ok": False, "detail": f"the checks are still running after {timeout:g} s"}}
        return task.result()

    async def aclose(self) -> None:
        if self._warmup is not None and not self._warmup.done():
            # Let a start in progress finish (bounded), so that the service can then close what it started.
            await asyncio.wait({self._warmup}, timeout=30)
        for task in [self._warmup, self._readiness, *self.active]:
            if task is not None and not task.done():
                task.cancel()
        pending = [t for t in (self._warmup, self._readiness, *self.active) if t is not None]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self.owns_service and self._service is not None:
            await self._service.aclose()

    # -- runs --------------------------------------------------------------------------------------------------
    def _admit(self) -> None:
        if len(self.active) >= self.max_runs:
            raise APIError(
                429, f"{self.max_runs} runs are already in flight; retry shortly.", type="rate_limit_error",
                code="too_many_runs", headers={"Retry-After": "1"},
            )

    def _track(self, task: asyncio.Task) -> None:
        self.active.add(task)
        self.metrics.runs_in_progress.inc()

        def _done(t: asyncio.Task) -> None:
            self.active.discard(t)
            self.metrics.runs_in_progress.dec()

        task.add_done_callback(_done)

    def _outcome(self, exc: BaseException | None) -> str:
        if exc is None:
            return "ok"
        if isinstance(exc, asyncio.CancelledError):
            return "cancelled"
        if isinstance(exc, self.llm_unavailable):
            return "llm_unavailable"
        return "error"

    async def until_disconnect(self, request: Request, task: asyncio.Task) -> Any:
        """Await ``task``; if the client disconnects first, cancel it and give up on the request."""
        watcher = asyncio.create_task(_wait_for_disconnect(request))
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            watcher.cancel()
        if not task.done():  # the client went away
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise asyncio.CancelledError("client disconnected")
        return task.result()

    async def run(
        self, request: Request, endpoint: str, message: str, thread_id: str | None, overrides: RunOverrides | None
    ) -> RunResult:
        """A whole run, cancelled if the client disconnects first."""
        self._admit()
        started = time.perf_counter()
        task = asyncio.create_task(self.service.run(message, thread_id=thread_id, overrides=overrides))
        self._track(task)
        try:
            result = await self.until_disconnect(request, task)
        except BaseException as exc:
            self.metrics.runs.labels(endpoint, self._outcome(exc)).inc()
            if isinstance(exc, asyncio.CancelledError):
                self.cancelled_runs += 1
            raise
        self.metrics.runs.labels(endpoint, "ok").inc()
        self.metrics.run_latency.labels(endpoint).observe(time.perf_counter() - started)
        if not isinstance(result, RunResult):
            result = RunResult.model_validate(result)
        self.metrics.observe_result(result.model_dump(include={"trace", "usage"}))
        return result

    async def open_stream(
        self,
        endpoint: str,
        message: str,
        thread_id: str | None,
        overrides: RunOverrides | None,
        first_event_wait_s: float = 0.5,
    ) -> RunStream:
        """Start a streaming run. Waits briefly for its first event so that a failure at the very start (the LLM
        endpoint is down) becomes a proper HTTP status instead of an error inside a 200 stream."""
        self._admit()
        stream = RunStream(self, endpoint, message, thread_id, overrides)
        try:
            await stream.prefetch(first_event_wait_s)
        except BaseException:
            stream.cancel()
            raise
        return stream


async def _wait_for_disconnect(request: Request) -> None:
    """Returns when the client disconnects (the body has been read already, so the next message is that)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
        await asyncio.sleep(0.05)  # not expected after the body; never spin


class RunStream:
    """A streaming run: the service's event stream, pumped by the run's own task into a bounded queue."""

    def __init__(
        self, ctx: ApiContext, endpoint: str, message: str, thread_id: str | None, overrides: RunOverrides | None
    ) -> None:
        self.ctx = ctx
        self.endpoint = endpoint
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=256)
        self.started = time.perf_counter()
        self.first_token_at: float | None = None
        self._pending: list[Any] = []
        self._finished = False
        self._outcome_recorded = False
        self.task = asyncio.create_task(self._pump(message, thread_id, overrides))
        ctx._track(self.task)

    async def _pump(self, message: str, thread_id: str | None, overrides: RunOverrides | None) -> None:
        agen = self.ctx.service.stream(message, thread_id=thread_id, overrides=overrides)
        try:
            async for event in agen:
                await self.queue.put(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # handed to the consumer, which maps it to a status or an error event
            await self.queue.put(_Failure(exc))
        else:
            await self.queue.put(_END)
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(BaseException):
                    await aclose()

    async def prefetch(self, timeout: float) -> None:
        try:
            item = await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return
        if isinstance(item, _Failure):
            self._record(item.exc)
            raise item.exc
        self._pending.append(item)

    def _record(self, exc: BaseException | None) -> None:
        if self._outcome_recorded:
            return
        self._outcome_recorded = True
        m = self.ctx.metrics
        m.runs.labels(self.endpoint, self.ctx._outcome(exc)).inc()
        if exc is None:
            m.run_latency.labels(self.endpoint).observe(time.perf_counter() - self.started)
        elif isinstance(exc, asyncio.CancelledError):
            self.ctx.cancelled_runs += 1

    def cancel(self) -> None:
        """Stop the run (its client went away). A run that had already ended counts by how it ended."""
        if not self.task.done():
            self.task.cancel()
            self._record(asyncio.CancelledError())
        elif not self.task.cancelled():
            self._record(self.task.exception())

    async def events(self) -> AsyncIterator[TraceEvent]:
        """The run's events in order; raises the run's exception if it failed. Cancelling the consumer (client
        disconnect) cancels the run."""
        try:
            while True:
                item = self._pending.pop(0) if self._pending else await self.queue.get()
                if item is _END:
                    self._finished = True
                    self._record(None)
                    return
                if isinstance(item, _Failure):
                    self._finished = True
                    self._record(item.exc)
                    raise item.exc
                event = item if isinstance(item, TraceEvent) else TraceEvent.model_validate(item)
                self._account(event)
                yield event
        finally:
            if not self._finished:
                self.cancel()

    def _account(self, event: TraceEvent) -> None:
        m = self.ctx.metrics
        if event.type == "token" and self.first_token_at is None:
            self.first_token_at = time.perf_counter()
            m.first_token.labels(self.endpoint).observe(self.first_token_at - self.started)
        if event.type == "done":
            m.observe_usage((event.data or {}).get("usage"))
        else:
            m.observe_event(event)

