"""The model-call and metering layer every node uses.

``traced`` wraps a node: it times the node, counts the tokens of its model calls and writes one ``step`` event
to LangGraph's custom stream with what the node decided (``note``). ``call_model`` makes one model call (stage
tag, completion cap, bound tools, token budget); ``parse_structured`` reads a structured reply or returns None,
so every caller can fall back to a deterministic answer.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langgraph.constants import TAG_NOSTREAM
from langgraph.runtime import Runtime
from pydantic import BaseModel, ValidationError

from agent.context import Context
from agent.state import State

# Completion caps for the structured steps (the answer uses the configured max_tokens).
STAGE_MAX_TOKENS = {"route": 96, "rewrite": 128, "grade": 160, "tools": 384, "evidence": 512, "probe": 96}



@dataclass
class NodeMeter:
    node: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_ms: float = 0.0
    llm_calls: int = 0
    estimated_tokens: bool = False
    data: dict[str, Any] = field(default_factory=dict)


_METER: contextvars.ContextVar[NodeMeter | None] = contextvars.ContextVar("bioagent_node_meter", default=None)


def note(**data: Any) -> None:
    """Add what a node decided to its trace event."""
    meter = _METER.get()
    if meter is not None:
        meter.data.update(data)


def traced(name: str):
    def deco(fn):
        @functools.wraps(fn)
        async def node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
            meter = NodeMeter(name)
            token = _METER.set(meter)
            start = time.perf_counter()
            try:
                update = await fn(state, runtime) or {}
            finally:
                _METER.reset(token)
            duration = (time.perf_counter() - start) * 1000
            # "route" starts a turn: the usage of earlier turns in the thread does not count.
            usage = {} if name == "route" else dict(state.usage or {})
            usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + meter.prompt_tokens
            usage["completion_tokens"] = usage.get("completion_tokens", 0) + meter.completion_tokens
            usage["llm_calls"] = usage.get("llm_calls", 0) + meter.llm_calls
            usage["llm_ms"] = int(usage.get("llm_ms", 0) + meter.llm_ms)
            update["usage"] = usage
            event = {
                "type": "step",
                "node": name,
                "data": {
                    **jsonable(meter.data),
                    "duration_ms": round(duration, 2),
                    "llm_ms": round(meter.llm_ms, 2),
                    "llm_calls": meter.llm_calls,
                    "tokens": {"prompt": meter.prompt_tokens, "completion": meter.completion_tokens,
                               **({"estimated": True} if meter.estimated_tokens else {})},
                },
            }
            runtime.stream_writer(event)
            return update

        return node

    return deco


def jsonable(data: Any) -> Any:
    try:
        return json.loads(json.dumps(data, default=str, ensure_ascii=False))
    except (TypeError, ValueError):
        return str(data)


class BudgetExceeded(Exception):
    pass


_RUNNABLES: OrderedDict[tuple, tuple[Any, Any, tuple]] = OrderedDict()


def _runnable(model: Any, stage: str, tools: list[Any] | None, tool_choice: str | None) -> Any:
    """The model for a stage: completion capped for structured steps, tools bound; cached (binding converts
    every tool schema, which would otherwise be redone on every call of every run)."""
    key = (id(model), stage, tuple(id(t) for t in tools or ()), tool_choice)
    hit = _RUNNABLES.get(key)
    if hit is not None and hit[1] is model:
        _RUNNABLES.move_to_end(key)
        return hit[0]
    bound = model
    cap = STAGE_MAX_TOKENS.get(stage)
    current = getattr(model, "max_tokens", None)
    if cap and "max_tokens" in getattr(type(model), "model_fields", {}) and (current is None or current > cap):
        bound = model.model_copy(update={"max_tokens": cap})  # short structured replies; no runaway strings
    if tools:
        kwargs = {"tool_choice": tool_choice} if tool_choice else {}
        bound = bound.bind_tools(tools, **kwargs)
    # the entry keeps the model and tools alive, so their ids cannot be reused while it is cached
    _RUNNABLES[key] = (bound, model, tuple(tools or ()))
    while len(_RUNNABLES) > 128:
        _RUNNABLES.popitem(last=False)
    return bound


def _estimate_tokens(messages: list[BaseMessage] | str) -> int:
    if isinstance(messages, str):
        return max(1, len(messages) // 4)
    return sum(max(1, len(str(m.content)) // 4) for m in messages)


async def call_model(runtime: Runtime[Context], stage: str, messages: list[BaseMessage], *,
                     tools: list[Any] | None = None, tool_choice: str | None = None, stream: bool = False,
                     optional: bool = True) -> AIMessage:
    """One model call, tagged by stage, counted in the node's meter; raises on errors (callers fall back)."""
    ctx = runtime.context
    meter = _METER.get()
    if optional and ctx.tokens_used >= ctx.max_run_tokens:
        raise BudgetExceeded(f"token budget of {ctx.max_run_tokens} reached")
    runnable = _runnable(await ctx.get_model(), stage, tools, tool_choice)
    tags = [f"bioagent:{stage}"] + ([] if stream else [TAG_NOSTREAM])
    start = time.perf_counter()
    try:
        msg = await runnable.ainvoke(messages, config={"tags": tags, "run_name": f"bioagent.{stage}"})
    finally:
        if meter is not None:
            meter.llm_ms += (time.perf_counter() - start) * 1000
            meter.llm_calls += 1
    record_usage(ctx, messages, msg)
    return msg  # type: ignore[return-value]


def record_usage(ctx: Context, messages: list[BaseMessage], msg: Any, calls: int = 0) -> None:
    """Count a model reply's tokens (the endpoint's usage, else an estimate) in the run's budget and the node's
    meter; ``calls``: model calls to add to the meter (call_model counts its own)."""
    meter = _METER.get()
    um = getattr(msg, "usage_metadata", None)
    if um and (um.get("input_tokens") or um.get("output_tokens")):
        p_tok, c_tok, estimated = int(um.get("input_tokens", 0)), int(um.get("output_tokens", 0)), False
    else:
        p_tok = _estimate_tokens(messages)
        c_tok = _estimate_tokens(str(getattr(msg, "content", ""))) + 8 * len(getattr(msg, "tool_calls", None) or [])
        estimated = True
    ctx.tokens_used += p_tok + c_tok
    if meter is not None:
        meter.llm_calls += calls
        meter.prompt_tokens += p_tok
        meter.completion_tokens += c_tok
        meter.estimated_tokens = meter.estimated_tokens or estimated


def message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def error_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}"[:300]


def parse_structured(msg: AIMessage, schema: type[BaseModel]) -> BaseModel | None:
    """The schema's value from a tool call or JSON content; None when the reply does not fit."""
    candidates: list[Any] = []
    for tc in msg.tool_calls or []:
        if tc.get("name") in (schema.__name__, None, "") or len(msg.tool_calls) == 1:
            candidates.append(tc.get("args"))
    text = msg.content if isinstance(msg.content, str) else ""
    m = re.search(r"\{.*\}", text, re.S)
    if m:
        try:
            candidates.append(json.loads(m.group(0)))
        except ValueError:
            pass
    for c in candidates:
        if isinstance(c, dict):
            if "arguments" in c and isinstance(c["arguments"], dict):
                c = c["arguments"]
            try:
                return schema.model_validate(c)
            except ValidationError:
                continue
    return None
