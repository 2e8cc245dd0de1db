"""Runs with ids: each run is one asyncio task that pumps the service's events into a bounded per-run buffer.

Any number of readers follow a run (``follow(after=seq)``): the HTTP response that started it, a later
``GET /v1/runs/{id}/stream`` with ``Last-Event-ID``, or a ``GET /v1/runs/{id}`` that only wants the result.
Every event gets a sequence number (the SSE ``id:``); the buffer keeps the last ``run_event_buffer`` events
(the ``done`` event, which carries the RunResult, is always kept as the result). A run that its starter does not
detach (``background``) is cancelled when that reader goes away; a background run runs to its end.
Finished runs stay readable for ``run_retention_s``.
"""

from __future__ import annotations

import asyncio
import collections
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from agent.events import RunResult, TraceEvent

MAX_FINISHED = 2000


class RunRecord:
    def __init__(self, run_id: str, thread_id: str, owner: str, endpoint: str, buffer: int, detached: bool) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.owner = owner
        self.endpoint = endpoint
        self.detached = detached
        self.status = "running"
        self.events: collections.deque[tuple[int, TraceEvent]] = collections.deque(maxlen=buffer)
        self.seq = 0
        self.result: dict[str, Any] | None = None
        self.exc: BaseException | None = None
        self.started = time.perf_counter()
        self.finished_at: float | None = None
        self.first_token_at: float | None = None
        self.task: asyncio.Task | None = None
        self._changed = asyncio.Event()

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def _push(self, event: TraceEvent) -> None:
        self.seq += 1
        self.events.append((self.seq, event))
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, after: int = 0) -> AsyncIterator[tuple[int, TraceEvent]]:
        """Events with a sequence number above ``after``, live until the run ends; then raises the run's
        exception if it failed (not when it was cancelled: the stream just ends)."""
        while True:
            changed = self._changed
            for seq, event in list(self.events):
                if seq > after:
                    after = seq
                    yield seq, event
            if self.finished:
                if self.exc is not None and self.status == "failed":
                    raise self.exc
                return
            await changed.wait()

    async def wait(self) -> RunResult:
        """The run's result; raises its exception (CancelledError when it was cancelled)."""
        while not self.finished:
            await self._changed.wait()
        if self.status == "failed" and self.exc is not None:
            raise self.exc
        if self.status == "cancelled" or self.result is None:
            raise asyncio.CancelledError("the run was cancelled")
        return RunResult.model_validate(self.result)

    def describe(self, with_result: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"run_id": self.run_id, "thread_id": self.thread_id, "status": self.status,
                               "endpoint": self.endpoint, "events": self.seq}
        if with_result and self.result is not None:
            out["result"] = self.result
        if self.status == "failed" and self.exc is not None:
            out["error"] = str(self.exc) or type(self.exc).__name__
        return out


class RunRegistry:
    """The runs of one app; ``start`` launches one, ``get`` finds it (for its owner only)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.runs: dict[str, RunRecord] = {}

    def start(self, endpoint: str, make_stream: Callable[[], Any], thread_id: str, owner: str,
              detached: bool = False) -> RunRecord:
        self._evict()
        api = self.ctx.settings.api
        record = RunRecord(uuid.uuid4().hex, thread_id, owner, endpoint, api.run_event_buffer, detached)
        record.task = asyncio.create_task(self._pump(record, make_stream))
        self.ctx.track(record.task)
        self.runs[record.run_id] = record
        return record

    def get(self, run_id: str, owner: str) -> RunRecord | None:
        record = self.runs.get(run_id)
        return record if record is not None and record.owner == owner else None

    def cancel(self, record: RunRecord) -> None:
        if record.task is not None and not record.task.done():
            record.task.cancel()

    def _evict(self) -> None:
        now = time.monotonic()
        keep = self.ctx.settings.api.run_retention_s
        old = [rid for rid, r in self.runs.items() if r.finished_at is not None and now - r.finished_at > keep]
        finished = [rid for rid, r in self.runs.items() if r.finished_at is not None]
        old.extend(finished[: max(0, len(finished) - MAX_FINISHED)])
        for rid in old:
            self.runs.pop(rid, None)

    async def _pump(self, record: RunRecord, make_stream: Callable[[], Any]) -> None:
        metrics = self.ctx.metrics
        agen = make_stream()
        try:
            async for event in agen:
                event = event if isinstance(event, TraceEvent) else TraceEvent.model_validate(event)
                if event.type == "token" and record.first_token_at is None:
                    record.first_token_at = time.perf_counter()
                    metrics.first_token.labels(record.endpoint).observe(record.first_token_at - record.started)
                if event.type == "done":
                    record.result = event.data
                    metrics.observe_usage((event.data or {}).get("usage"))
                else:
                    metrics.observe_event(event)
                record._push(event)
        except asyncio.CancelledError as exc:
            self._finish(record, "cancelled", exc)
            raise
        except Exception as exc:  # the readers map it to a status or an error event
            self._finish(record, "failed", exc)
        else:
            self._finish(record, "done" if record.result is not None else "failed", None)
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except BaseException:  # noqa: BLE001 - closing a cancelled generator
                    pass

    def _finish(self, record: RunRecord, status: str, exc: BaseException | None) -> None:
        record.status = status
        record.exc = exc
        record.finished_at = time.monotonic()
        outcome = {"done": "ok", "cancelled": "cancelled"}.get(status) or self.ctx.outcome(exc)
        self.ctx.metrics.runs.labels(record.endpoint, outcome).inc()
        if status == "done":
            self.ctx.metrics.run_latency.labels(record.endpoint).observe(time.perf_counter() - record.started)
        elif status == "cancelled":
            self.ctx.cancelled_runs += 1
        record._notify()
