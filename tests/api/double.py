"""TEST DOUBLE — not the agent.

``ContractService`` implements the published contract of ``agent.runner.AgentService`` (run / stream / history /
report / readiness / aclose with the agent/events.py types) by driving a fake chat model directly. The API tests
use the REAL AgentService with an injected fake chat model; this double serves only the tests that need a
service to misbehave on purpose (raise an unexpected error, report a dependency down), where the real service
cannot be made to do so.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from agent.events import RunOverrides, RunResult, TraceEvent


class ContractService:
    def __init__(self, chat_model, *, fail_with: BaseException | None = None, fail_after_events: int = 0,
                 readiness: dict | None = None):
        self.model = chat_model
        self.fail_with = fail_with
        self.fail_after_events = fail_after_events
        self._readiness = readiness
        self.threads: dict[str, list[dict]] = {}
        self.calls: list[tuple[str, str | None, RunOverrides | None]] = []

    async def stream(self, message: str, thread_id: str | None = None,
                     overrides: RunOverrides | None = None, scope=None) -> AsyncIterator[TraceEvent]:
        self.calls.append((message, thread_id, overrides))
        thread_id = thread_id or uuid.uuid4().hex
        started = time.perf_counter()
        trace: list[TraceEvent] = []
        emitted = 0

        def check() -> None:
            if self.fail_with is not None and emitted >= self.fail_after_events:
                raise self.fail_with

        check()
        route = TraceEvent(type="step", node="route", data={"route": "direct", "duration_ms": 0.1})
        trace.append(route)
        emitted += 1
        yield route
        check()
        t0 = time.perf_counter()
        text = []
        async for chunk in self.model.astream(message):
            if chunk.content:
                text.append(chunk.content)
                yield TraceEvent(type="token", node="answer", data={"text": chunk.content})
        answer_step = TraceEvent(type="step", node="answer",
                                 data={"duration_ms": (time.perf_counter() - t0) * 1000, "llm_ms": 1.0})
        trace.append(answer_step)
        yield answer_step
        answer = "".join(text)
        self.threads.setdefault(thread_id, []).extend(
            [{"role": "user", "content": message}, {"role": "assistant", "content": answer}])
        result = RunResult(thread_id=thread_id, question=message, answer=answer, route="direct", trace=trace,
                           usage={"prompt_tokens": 20, "completion_tokens": len(text)},
                           duration_ms=(time.perf_counter() - started) * 1000, model="double")
        yield TraceEvent(type="done", data=result.model_dump(mode="json"))

    async def run(self, message: str, thread_id: str | None = None,
                  overrides: RunOverrides | None = None, scope=None) -> RunResult:
        async for event in self.stream(message, thread_id, overrides):
            if event.type == "done":
                return RunResult.model_validate(event.data)
        raise AssertionError("no done event")

    async def history(self, thread_id: str) -> list[dict]:
        return list(self.threads.get(thread_id, []))

    async def report(self, sequence_text: str, lang: str = "en", **_options) -> dict:
        if self.fail_with is not None:
            raise self.fail_with
        return {"markdown": "# Report\n", "data": {"length": len(sequence_text)}}

    async def readiness(self) -> dict[str, dict]:
        return self._readiness or {name: {"ok": True, "detail": "double"}
                                   for name in ("llm", "qdrant", "mcp_sequence", "mcp_literature")}

    async def aclose(self) -> None:
        pass
