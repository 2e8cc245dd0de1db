"""``route``: read the question (sequences, mutations, language) and choose the route.

evidence: the guards decide, no model call. guarded: the model may add steps to what the guards force.
agentic: the model's route decides; the guards' route is used only when its reply is unusable.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from agent import prompts
from agent.context import Context
from agent.model_calls import call_model, error_line, message_text, note, parse_structured, traced
from agent.nodes.common import history
from agent.nodes.schemas import RouteDecision
from agent.query_heuristics import combine_routes, guarded_route, search_text, write_intent
from agent.sequence_detect import detect_language, extract_mutations, extract_sequences
from agent.state import State, turn_reset


async def library_documents(ctx: Context) -> int | None:
    """Documents in the library (None when the knowledge base cannot say)."""
    try:
        kb = await ctx.get_kb()
        stats = await asyncio.to_thread(kb.stats)
        n = stats.get("documents")
        return int(n) if isinstance(n, (int, float)) else None
    except Exception:  # noqa: BLE001 - retrieval reports the failure itself
        return None


@traced("route")
async def route(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    humans = [m for m in state.messages if isinstance(m, HumanMessage)]
    question = message_text(humans[-1].content) if humans else ""
    sequences, text = extract_sequences(question)
    language = ctx.overrides.language or detect_language(question)
    proteins = [s for s in sequences if s["kind"] == "protein"]
    mutations = extract_mutations(text, proteins[0]["sequence"] if proteins else None)
    tools_available = ctx.overrides.tools_enabled != []
    guarded, reason, need_r, need_t = guarded_route(
        text, sequences, retrieval_enabled=ctx.retrieval_enabled, tools_available=tools_available)
    llm_route, llm_status = None, "skipped (guards decided)"
    documents = await library_documents(ctx) if ctx.retrieval_enabled else None
    ask_model = ctx.mode == "agentic" or (ctx.mode == "guarded" and guarded != "both")
    if ctx.mode == "evidence":
        llm_status = "skipped (evidence mode: the guards decide)"
    elif documents == 0 and guarded == "retrieve":
        ask_model, llm_status = False, "skipped: the library is empty"
    if ask_model and (tools_available or ctx.retrieval_enabled):
        try:
            msg = await call_model(runtime, "route", [
                SystemMessage(prompts.ROUTE_SYSTEM), *history(state, 2), HumanMessage(text)],
                tools=[RouteDecision], tool_choice="RouteDecision")
            decision = parse_structured(msg, RouteDecision)
            if decision is None:
                llm_status = "invalid structured output; guarded default used"
            else:
                llm_route, llm_status = decision.route, f"model chose {decision.route}: {decision.reason[:120]}"
        except Exception as exc:  # noqa: BLE001
            llm_status = f"model unavailable ({error_line(exc)}); guarded default used"
    if ctx.mode == "agentic" and llm_route is not None:
        # the model decides; only what cannot run is taken away
        final = combine_routes("direct", llm_route, False, False, retrieval_enabled=ctx.retrieval_enabled,
                               tools_available=tools_available)
    else:
        final = combine_routes(guarded, llm_route, need_r, need_t, retrieval_enabled=ctx.retrieval_enabled,
                               tools_available=tools_available)
    library_empty = documents == 0 and final in ("retrieve", "both")
    write_allowed = write_intent(text)
    search = search_text(text, sequences, mutations)
    note(route=final, mode=ctx.mode, guarded=guarded, guard_reason=reason, llm=llm_status, language=language,
         sequences=[{"id": s["id"], "kind": s["kind"], "length": len(s["sequence"])} for s in sequences],
         mutations=mutations, write_allowed=write_allowed, library_documents=documents)
    return {**turn_reset(question), "question": question, "question_text": text, "search_text": search,
            "language": language, "sequences": sequences, "mutations": mutations, "route": final,
            "route_reason": f"{reason}; {llm_status}", "write_allowed": write_allowed, "mode": ctx.mode,
            "library_empty": library_empty}


def after_route(state: State) -> Literal["rewrite", "plan_tools", "answer"]:
    if state.route in ("retrieve", "both") and not state.library_empty:
        return "rewrite"
    if state.route in ("tools", "both"):
        return "plan_tools"
    return "answer"
