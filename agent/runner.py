"""Run the agent: the one entry point the CLI, the HTTP API, the Streamlit UI and the evals share.

```python
service = AgentService()                         # settings from the environment
async for event in service.stream("What does Rep do?"):
    ...                                          # step / token / tool_call / tool_result / error, then done
result = await service.run("继续", thread_id=...)  # the same, collected into a RunResult
await service.aclose()
```

Streaming: ``token`` events carry the answer model's text as it is generated; the checked answer (citations
verified, fallback applied) is ``RunResult.answer`` in the final ``done`` event, which is what to display.
``RunResult.passages[i]`` is the passage the answer cites as ``P{i+1}``; tool results carry their own ids.

Errors: ``LLMUnavailable`` (no endpoint; its message says what to start or set) and ``CheckpointerUnavailable``
propagate from ``run``/``stream`` before any event. A model, tool or search failure in the middle of a run is
handled inside the graph (an ``error`` or step event says what happened) and the run still answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import BaseTool

from agent.checkpoint import CheckpointerUnavailable, open_checkpointer
from agent.compose import compose_after_timeout
from agent.context import Context, load_knowledge_base
from agent.events import Citation, RunOverrides, RunResult, ToolResult, TraceEvent
from agent.graph import build_graph
from agent.kb.models import Hit
from agent.mode_probe import resolve_mode
from agent.settings import Settings, get_settings
from agent.tools import MCPManager

log = logging.getLogger(__name__)

__all__ = ["AgentService", "CheckpointerUnavailable"]

RECURSION_LIMIT = 80
DURABILITY = "async"
MODEL_CACHE_SIZE = 8  # chat models kept per (temperature, top_p, max_tokens)


def _apply_overrides(model: BaseChatModel, overrides: RunOverrides) -> BaseChatModel:
    """Sampling overrides on an injected model (a copy), where the model has such fields."""
    fields = getattr(type(model), "model_fields", {})
    update = {k: getattr(overrides, k) for k in ("temperature", "top_p", "max_tokens")
              if getattr(overrides, k) is not None and k in fields}
    return model.model_copy(update=update) if update else model


def _model_name(model: Any) -> str | None:
    if model is None:
        return None
    for attr in ("model_name", "model"):
        v = getattr(model, attr, None)
        if isinstance(v, str):
            return v
    return type(model).__name__


class AgentService:
    """The agent with its resources: checkpointer, chat model(s), knowledge base and MCP tools."""

    def __init__(self, settings: Settings | None = None, *, chat_model: BaseChatModel | None = None,
                 knowledge_base=None, tools: list[BaseTool] | None = None):
        self.settings = settings or get_settings()
        self._chat_model = chat_model
        self._kb = knowledge_base
        self._tools = tools
        self._mcp: MCPManager | None = None
        self._graph = None
        self._stack = AsyncExitStack()
        self._lock: asyncio.Lock | None = None
        self._models: dict[tuple, BaseChatModel] = {}
        self.mode_info: dict[str, Any] = {}
        self._closed = False

    # ------------------------------------------------------------------------------------------------ setup
    def _get_lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def start(self) -> None:
        """Open the checkpointer and start the MCP servers now (otherwise done on the first run)."""
        await self._ensure()

    async def _ensure(self) -> None:
        async with self._get_lock():
            if self._closed:
                raise RuntimeError("this AgentService is closed")
            if self._graph is None:
                saver = await open_checkpointer(self.settings, self._stack)
                self._graph = build_graph(saver)
            if self._tools is None and self._mcp is None:
                self._mcp = MCPManager(self.settings)
                await self._mcp.start()

    @property
    def graph(self):
        return self._graph

    def tools(self) -> list[BaseTool]:
        if self._tools is not None:
            return list(self._tools)
        return list(self._mcp.tools) if self._mcp else []

    def tool_status(self) -> dict[str, dict[str, Any]]:
        if self._tools is not None:
            return {"injected": {"ok": True, "detail": f"{len(self._tools)} tools"}}
        return dict(self._mcp.status) if self._mcp else {}

    async def _model_for(self, overrides: RunOverrides) -> BaseChatModel:
        if self._chat_model is not None:
            return _apply_overrides(self._chat_model, overrides)
        key = (overrides.temperature, overrides.top_p, overrides.max_tokens)
        model = self._models.pop(key, None)
        if model is not None:
            self._models[key] = model  # most recently used last
        else:
            from agent.llm import chat_model

            # chat_model checks the endpoint (and starts the embedded server) and may block: not on the loop.
            model = await asyncio.to_thread(chat_model, self.settings, overrides)
            self._models[key] = model
            while len(self._models) > MODEL_CACHE_SIZE:  # least recently used first
                self._models.pop(next(iter(self._models)))
        return model

    async def _knowledge_base(self) -> Any:
        if self._kb is None:
            self._kb = await asyncio.to_thread(load_knowledge_base, self.settings)
        return self._kb

    async def mode(self, model: BaseChatModel | None = None) -> str:
        """The run mode for this service's model (``agent.mode``; ``auto`` probes the endpoint once)."""
        model = model or await self._model_for(RunOverrides())
        mode, info = await resolve_mode(self.settings, self._chat_model or model)
        self.mode_info = {"mode": mode, **info}
        return mode

    def uses_model(self, overrides: RunOverrides | None = None) -> bool:
        """False in evidence mode, set or known without a probe (``auto`` on the embedded server with the bundled
        model): runs make no model calls, so the LLM server is neither started nor probed."""
        overrides = overrides or RunOverrides()
        if self._chat_model is not None:
            return overrides.mode != "evidence"
        configured = overrides.mode or self.settings.agent.mode
        llm = self.settings.llm
        return not (configured == "evidence"
                    or (configured == "auto" and llm.base_url is None and llm.gguf_path is None))

    def _context(self, model: BaseChatModel | None, overrides: RunOverrides, mode: str) -> Context:
        return Context(settings=self.settings, chat_model=model, knowledge_base=self._kb, tools=self.tools(),
                       overrides=overrides, tool_status=self.tool_status(), mode=mode)

    # ------------------------------------------------------------------------------------------------- runs
    async def run(self, message: str, thread_id: str | None = None,
                  overrides: RunOverrides | None = None, scope: Any = None) -> RunResult:
        result: RunResult | None = None
        async for event in self.stream(message, thread_id, overrides, scope=scope):
            if event.type == "done":
                result = RunResult.model_validate(event.data)
        assert result is not None
        return result

    async def stream(self, message: str, thread_id: str | None = None,
                     overrides: RunOverrides | None = None, scope: Any = None) -> AsyncIterator[TraceEvent]:
        """``scope``: optional callable wrapping the knowledge base for this run (the API restricts a user's run
        to their documents plus the shared library with ``agent.kb.scope.scope_for``)."""
        overrides = overrides or RunOverrides()
        thread_id = thread_id or uuid.uuid4().hex
        if not isinstance(message, str) or not message.strip():
            raise ValueError("the message is empty")
        start = time.perf_counter()
        if not self.uses_model(overrides):
            model, mode = None, "evidence"  # no generation: the embedded server is not even started
        else:
            model = await self._model_for(overrides)  # first: no endpoint -> LLMUnavailable before anything starts
            mode = overrides.mode or await self.mode(model)
        await self._ensure()
        ctx = self._context(model, overrides, mode)
        if scope is not None:
            ctx.knowledge_base = scope(await self._knowledge_base())
        config = {"configurable": {"thread_id": thread_id}, "recursion_limit": RECURSION_LIMIT}
        trace: list[TraceEvent] = []
        latest: dict[str, Any] = {}
        streamed_answer = False
        timed_out = False
        limit = self.settings.agent.time_limit_s
        agen = self._graph.astream({"messages": [HumanMessage(content=message)]}, config, context=ctx,
                                   stream_mode=["updates", "messages", "custom"],
                                   durability=self.settings.agent.checkpoint_durability or DURABILITY)
        try:
            async with asyncio.timeout(limit):
                async for mode, payload in agen:
                    if mode == "custom":
                        event = TraceEvent(type=payload.get("type", "step"), node=payload.get("node"),
                                           data=payload.get("data", {}))
                        trace.append(event)
                        yield event
                    elif mode == "messages":
                        chunk, meta = payload
                        if "bioagent:answer" not in (meta.get("tags") or []):
                            continue
                        if isinstance(chunk, AIMessageChunk):
                            streamed_answer = True
                        elif streamed_answer or not isinstance(chunk, AIMessage):
                            continue
                        text = chunk.content if isinstance(chunk.content, str) else ""
                        if text:
                            yield TraceEvent(type="token", node="answer", data={"text": text})
                    elif mode == "updates":
                        for _node, update in (payload or {}).items():
                            if isinstance(update, dict):
                                latest.update({k: v for k, v in update.items() if k != "messages"})
        except TimeoutError:
            timed_out = True
        finally:
            await agen.aclose()
            if self._kb is None and ctx.knowledge_base is not None and scope is None:
                self._kb = ctx.knowledge_base

        if timed_out:
            msg = f"time limit of {limit:g} s reached; answering with what was found so far"
            event = TraceEvent(type="error", data={"message": msg})
            trace.append(event)
            yield event
            values = await self._finish_after_timeout(config, latest)
            values.setdefault("mode", mode)
        else:
            snapshot = await self._graph.aget_state(config)
            values = dict(snapshot.values)
        result = self._result(thread_id, message, values, trace, start, model)
        yield TraceEvent(type="done", data=result.model_dump(mode="json"))

    async def _finish_after_timeout(self, config: dict, latest: dict[str, Any]) -> dict[str, Any]:
        """The evidence composer's answer from what the run had gathered, stored as the turn's answer."""
        values = await asyncio.to_thread(compose_after_timeout, dict(latest), self.settings)
        try:
            await self._graph.aupdate_state(config, {"messages": [AIMessage(content=values["answer"])],
                                                     "answer": values["answer"]}, as_node="verify")
        except Exception as exc:  # noqa: BLE001 - the answer is still returned
            log.warning("could not store the answer after a timeout: %s", exc)
        return values

    def _result(self, thread_id: str, message: str, values: dict[str, Any], trace: list[TraceEvent],
                start: float, model: BaseChatModel) -> RunResult:
        usage = {k: int(v) for k, v in (values.get("usage") or {}).items() if isinstance(v, (int, float))}
        usage.setdefault("prompt_tokens", 0)
        usage.setdefault("completion_tokens", 0)
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return RunResult(
            thread_id=thread_id,
            question=message,
            answer=values.get("answer", ""),
            language=values.get("language", "en"),
            route=values.get("route"),
            citations=[Citation(**c) for c in values.get("citations", [])],
            invalid_citations=list(values.get("invalid_citations", [])),
            passages=[Hit.model_validate(p) for p in values.get("context_passages", [])],
            tool_results=[ToolResult(**{k: r.get(k) for k in ToolResult.model_fields if k in r})
                          for r in values.get("tool_results", [])],
            insufficient_evidence=bool(values.get("insufficient_evidence", False)),
            trace=trace,
            usage=usage,
            duration_ms=round((time.perf_counter() - start) * 1000, 2),
            model=_model_name(model),
            mode=values.get("mode"),
            answer_mode=values.get("answer_mode"),
            claims=list(values.get("claims") or []),
        )

    # ---------------------------------------------------------------------------------------------- threads
    async def history(self, thread_id: str) -> list[dict]:
        await self._ensure()
        snapshot = await self._graph.aget_state({"configurable": {"thread_id": thread_id}})
        out = []
        for m in (snapshot.values or {}).get("messages", []):
            if isinstance(m, HumanMessage):
                out.append({"role": "user", "content": m.text if hasattr(m, "text") else str(m.content)})
            elif isinstance(m, AIMessage) and not m.tool_calls:
                out.append({"role": "assistant", "content": m.text if hasattr(m, "text") else str(m.content)})
        return out

    # ----------------------------------------------------------------------------------------------- report
    async def report(self, sequence_text: str, lang: Literal["en", "zh"] = "en", scope: Any = None,
                     scan: bool = True, literature: bool = True) -> dict:
        from agent.report import build_report

        await self._ensure()
        kb = None
        try:
            kb = await self._knowledge_base() if literature else None
        except Exception as exc:  # noqa: BLE001 - the report says the library was unavailable
            log.warning("knowledge base unavailable for the report: %s", exc)
        if kb is not None and scope is not None:
            kb = scope(kb)
        tools = [t for t in self.tools() if scan or t.name != "mutational_scan"]
        report = await build_report(sequence_text, lang, tools=tools, knowledge_base=kb,
                                    settings=self.settings, tool_status=self.tool_status())
        return await self._report_summary(report, lang)

    async def _report_summary(self, report: dict, lang: str) -> dict:
        """agentic mode: a model-written summary, every claim checked; otherwise the deterministic report."""
        from agent.report_summary import summarise, with_summary

        if self.settings.agent.mode == "guarded" or not self.uses_model():
            report["data"]["mode"] = "guarded" if self.settings.agent.mode == "guarded" else "evidence"
            return report
        try:
            model = await self._model_for(RunOverrides())
            mode = await self.mode(model)
        except Exception as exc:  # noqa: BLE001 - no model: the deterministic report is complete
            report["data"]["summary"] = {"text": "", "claims": [], "error": f"no model: {str(exc)[:160]}"}
            return report
        report["data"]["mode"] = mode
        if mode != "agentic":
            return report
        return with_summary(report, await summarise(report, lang, model, self.settings), lang)

    # -------------------------------------------------------------------------------------------- readiness
    async def readiness(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        out["llm"] = await self._llm_ready()
        try:
            kb = await self._knowledge_base()
            stats = await asyncio.to_thread(kb.stats)
            out["qdrant"] = {"ok": True, "detail": f"{stats.get('backend', 'qdrant')} at {stats.get('location', '?')}: "
                                                   f"{stats.get('documents', 0)} documents, {stats.get('chunks', 0)} chunks"}
        except Exception as exc:  # noqa: BLE001
            out["qdrant"] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
        try:
            await self._ensure()
        except Exception as exc:  # noqa: BLE001
            out["checkpointer"] = {"ok": False, "detail": str(exc)}
        status = self.tool_status()
        for name in ("sequence", "literature"):
            if self._tools is not None:
                names = [t.name for t in self._tools if (t.metadata or {}).get("server") in (name, None)]
                out[f"mcp_{name}"] = {"ok": True, "detail": f"injected tools: {', '.join(names) or 'none'}"}
            else:
                out[f"mcp_{name}"] = status.get(name, {"ok": False, "detail": "not started"})
        return out

    async def _llm_ready(self) -> dict:
        if not self.uses_model():
            return {"ok": True, "detail": "not used: evidence mode composes answers without a model "
                                          "(no LLM server is started)"}
        if self._chat_model is not None:
            return {"ok": True, "detail": f"injected model {_model_name(self._chat_model)}"}
        from agent.llm import LLMUnavailable, ensure_endpoint

        try:
            url = await asyncio.to_thread(ensure_endpoint, self.settings)
            return {"ok": True, "detail": f"{url} answers"}
        except LLMUnavailable as exc:
            return {"ok": False, "detail": str(exc)}
        except Exception as exc:  # noqa: BLE001
            return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}

    # ------------------------------------------------------------------------------------------------ close
    async def aclose(self) -> None:
        async with self._get_lock():
            self._closed = True
            if self._mcp is not None:
                await self._mcp.aclose()
                self._mcp = None
            await self._stack.aclose()
            self._graph = None

    async def __aenter__(self) -> AgentService:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
