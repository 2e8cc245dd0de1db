"""``plan_tools`` and ``run_tools``: which tool calls to make, and making them.

Calls are deduplicated on normalised arguments (FASTA header, white space and case ignored), within the turn
and against the thread's earlier successful results, which are reused instead of run again. guarded: the
guards' calls (a sequence always reaches the sequence tools) and the model's proposals in one step.
evidence: the guards' calls only. agentic: the guards' calls run first and their results go back to the model
as tool messages; the model then chooses more calls (or none).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.runtime import Runtime

from agent import prompts
from agent.context import Context
from agent.guard_calls import WRITE_TOOLS, literature_guard_calls, sequence_guard_calls, sequence_tool_names
from agent.model_calls import call_model, error_line, jsonable, note, traced
from agent.nodes.common import call_key, history
from agent.query_heuristics import wants_public_search
from agent.state import State
from agent.tools import execute_tool_call

MAX_TOOL_ITERATIONS = 3


def allowed_tools(state: State, ctx: Context) -> dict[str, Any]:
    tools = ctx.tool_map()
    if not state.write_allowed:
        tools = {n: t for n, t in tools.items() if n not in WRITE_TOOLS}
    return tools


def _bound_tools(state: State, ctx: Context) -> dict[str, Any]:
    """The tools offered to the model this turn: sequence tools for a sequence, else literature tools."""
    allowed = allowed_tools(state, ctx)
    seq_names = sequence_tool_names(allowed)
    if state.sequences:
        chosen = {n: t for n, t in allowed.items() if n in seq_names}
    else:
        chosen = {n: t for n, t in allowed.items() if n not in seq_names}
    return chosen or allowed


def _sequence_for_args(state: State, value: Any) -> Any:
    """Replace a sequence id/placeholder the model passed with the sequence itself."""
    if not isinstance(value, str) or not state.sequences:
        return value
    v = value.strip()
    for s in state.sequences:
        if v in (s["id"], f"[sequence {s['id']}]") or v.startswith(f"[sequence {s['id']},"):
            return s["sequence"]
    if re.fullmatch(r"\[?sequence[^\]]*\]?|seq\d*", v, re.I):
        return state.sequences[0]["sequence"]
    return value


def _tool_messages_for_model(state: State) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for m in state.tool_messages:
        if isinstance(m, ToolMessage):
            out.append(ToolMessage(content=prompts.fence(m.tool_call_id, "tool_result",
                                                         prompts.tool_content_text(m.content, 1200)),
                                   tool_call_id=m.tool_call_id, name=m.name, status=m.status))
        else:
            out.append(m)
    return out


async def _model_calls(state: State, runtime: Runtime[Context], bound: dict[str, Any], add) -> str:
    """Ask the model which tools to call; ``add`` each proposal; return a status line for the trace."""
    seq_info = "\n".join(
        prompts.fence(s["id"], "sequence", s["sequence"], f'kind="{s["kind"]}"') for s in state.sequences)
    content = state.question_text + (f"\n\nSequences:\n{seq_info}" if seq_info else "")
    if state.mutations:
        content += f"\n\nMutations named: {', '.join(state.mutations)}"
    if state.passages and state.route == "both":
        content += "\n\n(Literature passages were retrieved separately.)"
    messages: list[BaseMessage] = [SystemMessage(prompts.TOOLS_SYSTEM), *history(state, 2), HumanMessage(content),
                                   *_tool_messages_for_model(state)]
    try:
        msg = await call_model(runtime, "tools", messages, tools=list(bound.values()))
    except Exception as exc:  # noqa: BLE001
        return f"model unavailable ({error_line(exc)})"
    kept = 0
    for tc in msg.tool_calls or []:
        args = {k: _sequence_for_args(state, v) for k, v in (tc.get("args") or {}).items()}
        kept += add(tc.get("name", ""), args, "model", tc.get("id"))
    status = f"model proposed {len(msg.tool_calls or [])} call(s), {kept} kept"
    if msg.invalid_tool_calls:
        status += f"; {len(msg.invalid_tool_calls)} malformed call(s) ignored"
    return status


@traced("plan_tools")
async def plan_tools(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    allowed = allowed_tools(state, ctx)
    all_tools = ctx.tool_map()
    done_keys = {call_key(r["name"], r["args"]) for r in state.tool_results}
    memory = {call_key(r["name"], r.get("args") or {}): r for r in state.memory_tools}
    remaining = ctx.max_tool_calls - len([r for r in state.tool_results if not r.get("memory")])
    calls: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    reused: list[dict[str, Any]] = []
    duplicates: list[str] = []
    update: dict[str, Any] = {"tool_iterations": state.tool_iterations + 1}

    def add(name: str, args: dict[str, Any], origin: str, call_id: str | None = None) -> int:
        key = call_key(name, args)
        if key in done_keys or any(call_key(c["name"], c["args"]) == key for c in calls) \
                or any(call_key(r["name"], r["args"]) == key for r in reused):
            duplicates.append(name)
            return 0
        if name not in allowed:
            why = ("not allowed: the user did not ask to change the library" if name in WRITE_TOOLS
                   else "not an available tool")
            rejected.append({"name": name, "args": args, "origin": origin, "reason": why, "id": call_id})
            return 0
        if key in memory:  # the same call earlier in this thread: its result is reused, not run again
            reused.append(memory[key])
            return 1
        if len(calls) >= remaining:
            rejected.append({"name": name, "args": args, "origin": origin, "reason": "tool-call limit reached",
                             "id": call_id})
            return 0
        calls.append({"name": name, "args": args, "origin": origin,
                      "id": call_id or f"call_{len(state.tool_results) + len(calls) + 1}"})
        return 1

    guard_ran_now = False
    if not state.guard_calls_done:
        update["guard_calls_done"] = True
        if state.sequences:
            guard = sequence_guard_calls(state.sequences, state.mutations, all_tools)
            for c in guard:
                guard_ran_now |= bool(add(c["name"], c["args"], "guard"))
            if not guard:
                note(guard="no sequence tool available for the sequence in the message")
        elif wants_public_search(state.question_text):
            for c in literature_guard_calls(state.question_text, all_tools):
                guard_ran_now |= bool(add(c["name"], c["args"], "guard"))
    model_status = "skipped"
    bound = _bound_tools(state, ctx)
    wanting = ("model", "guard") if ctx.mode == "agentic" else ("model",)
    model_wanted_more = state.tool_iterations == 0 or any(
        isinstance(m, AIMessage) and m.tool_calls and m.response_metadata.get("origin") in wanting
        for m in state.tool_messages[-4:])
    if ctx.mode == "evidence":
        model_status = "skipped (evidence mode: the guards' calls only)"
    elif ctx.mode == "agentic" and guard_ran_now:
        model_status = "deferred: the guards' results go to the model first"
    elif (bound and remaining - len(calls) > 0 and state.tool_iterations < MAX_TOOL_ITERATIONS
          and model_wanted_more):
        model_status = await _model_calls(state, runtime, bound, add)
    # Sequence tools that could not be loaded: the model and the user see why.
    if state.sequences and not state.tool_results and not calls and not sequence_tool_names(all_tools):
        rejected.append({"name": "sequence tools", "args": {}, "origin": "guard",
                         "reason": "tools disabled for this run" if ctx.overrides.tools_enabled == []
                         else (ctx.tool_status.get("sequence", {}).get("detail")
                               or "the sequence MCP server is not available"), "id": None})
    results = list(state.tool_results)
    messages_out = list(state.tool_messages)
    for r in reused:
        results.append({**r, "id": f"T{len(results) + 1}", "memory": True})
    if rejected:
        rej_msgs = []
        ai_calls = []
        for r in rejected:
            ref = f"T{len(results) + 1}"
            res = {"id": ref, "name": r["name"], "args": r["args"], "ok": False, "content": None, "rejected": True,
                   "error": f"call rejected: {r['reason']}", "duration_ms": 0.0}
            if r["reason"] != "tool-call limit reached":
                results.append(res)
            tc_id = r["id"] or f"rejected_{ref}"
            ai_calls.append({"name": r["name"], "args": r["args"], "id": tc_id})
            rej_msgs.append(ToolMessage(content=res["error"], tool_call_id=tc_id, status="error", name=r["name"]))
        messages_out += [AIMessage(content="", tool_calls=ai_calls, response_metadata={"origin": "rejected"}), *rej_msgs]
    if rejected or reused:
        update["tool_results"] = results
        update["tool_messages"] = messages_out
    note(iteration=state.tool_iterations + 1, calls=[{k: c[k] for k in ("name", "args", "origin")} for c in calls],
         rejected=[{k: r[k] for k in ("name", "origin", "reason")} for r in rejected], model=model_status,
         duplicates_skipped=duplicates, reused_from_thread=[r["name"] for r in reused],
         bound_tools=sorted(bound), remaining=remaining - len(calls))
    update["pending_tool_calls"] = calls
    return update


def after_plan_tools(state: State) -> Literal["run_tools", "answer"]:
    return "run_tools" if state.pending_tool_calls else "answer"


@traced("run_tools")
async def run_tools(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    tools = ctx.tool_map()
    calls = state.pending_tool_calls
    results = list(state.tool_results)
    timeout = max(5.0, min(180.0, ctx.settings.agent.time_limit_s))
    refs = [f"T{len(results) + i}" for i in range(1, len(calls) + 1)]
    for ref, c in zip(refs, calls):
        runtime.stream_writer({"type": "tool_call", "node": "run_tools",
                               "data": {"id": ref, "name": c["name"], "args": jsonable(c["args"]),
                                        "origin": c["origin"]}})
    outs = await asyncio.gather(*(
        execute_tool_call(tools.get(c["name"]), c, ref, timeout) for ref, c in zip(refs, calls)))
    ai = AIMessage(content="", tool_calls=[{"name": c["name"], "args": c["args"], "id": c["id"]} for c in calls],
                   response_metadata={"origin": "model" if any(c["origin"] == "model" for c in calls) else "guard"})
    tool_msgs: list[AnyMessage] = []
    for c, out in zip(calls, outs):
        results.append(out)
        runtime.stream_writer({"type": "tool_result", "node": "run_tools", "data": jsonable(out)})
        body = prompts.tool_content_text(out["content"]) if out["ok"] else f"ERROR: {out['error']}"
        tool_msgs.append(ToolMessage(content=f"[{out['id']}] {body}", tool_call_id=c["id"], name=c["name"],
                                     status="success" if out["ok"] else "error"))
    note(results=[{"id": o["id"], "name": o["name"], "ok": o["ok"], "error": o["error"],
                   "duration_ms": o["duration_ms"]} for o in outs])
    return {"tool_results": results, "pending_tool_calls": [],
            "tool_messages": [*state.tool_messages, ai, *tool_msgs]}


def after_run_tools(state: State, runtime: Runtime[Context]) -> Literal["plan_tools", "answer"]:
    """Back to the model when it asked for tools itself and may call more (agentic: also after the guards'
    calls, so the model sees their results); otherwise on to the answer."""
    ctx = runtime.context
    last = next((m for m in reversed(state.tool_messages) if isinstance(m, AIMessage) and m.tool_calls), None)
    origin = last.response_metadata.get("origin") if last is not None else None
    back = origin == "model" or (ctx.mode == "agentic" and origin == "guard")
    more = (len([r for r in state.tool_results if not r.get("memory")]) < ctx.max_tool_calls
            and state.tool_iterations < MAX_TOOL_ITERATIONS and ctx.mode != "evidence")
    return "plan_tools" if back and more else "answer"
