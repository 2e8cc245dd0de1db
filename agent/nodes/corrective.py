"""``corrective`` (agentic mode): when the library stays insufficient after its re-retrieval rounds, search
PubMed (or Europe PMC) with the question's English keywords, add the records found to the library with the
ingest tool, and search the library again (corrective RAG). The answer says that it did.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agent.context import Context
from agent.guard_calls import _pick, _schema_props
from agent.model_calls import jsonable, note, traced
from agent.query_heuristics import gloss_translate, keywords
from agent.sequence_detect import CJK_RE
from agent.state import State
from agent.tools import execute_tool_call

SEARCH_TOOLS = (("search_pubmed", "PubMed"), ("search_europepmc", "Europe PMC"))
INGEST_TOOL = "add_to_library"
MAX_RECORDS = 5


def _search_tool(ctx: Context) -> tuple[str, str] | None:
    tools = ctx.tool_map()
    return next(((n, label) for n, label in SEARCH_TOOLS if n in tools), None)


def can_search_public(state: State, ctx: Context) -> bool:
    return ctx.retrieval_enabled and _search_tool(ctx) is not None and ctx.settings.agent.corrective_search


def public_query(state: State) -> str:
    """English keywords of the question (Chinese glossed); the model's own queries come first when given."""
    base = state.search_text or state.question_text
    english = gloss_translate(base) if CJK_RE.search(base) else base
    model_queries = [q for q in state.queries[1:] if not CJK_RE.search(q)]
    return model_queries[0] if model_queries else " ".join(keywords(english)[:8])


def _pmids(content: Any) -> list[str]:
    if not isinstance(content, dict):
        return []
    out = []
    for a in content.get("articles") or []:
        pmid = a.get("pmid") if isinstance(a, dict) else None
        if pmid and str(pmid) not in out:
            out.append(str(pmid))
    return out[:MAX_RECORDS]


async def _call(runtime: Runtime[Context], results: list[dict], name: str, args: dict[str, Any]) -> dict:
    ctx = runtime.context
    ref = f"T{len(results) + 1}"
    call = {"name": name, "args": args, "id": f"corrective_{ref}", "origin": "corrective"}
    runtime.stream_writer({"type": "tool_call", "node": "corrective",
                           "data": {"id": ref, "name": name, "args": jsonable(args), "origin": "corrective"}})
    out = await execute_tool_call(ctx.tool_map().get(name), call, ref, max(5.0, min(120.0, ctx.settings.agent.time_limit_s)))
    runtime.stream_writer({"type": "tool_result", "node": "corrective", "data": jsonable(out)})
    results.append(out)
    return out


@traced("corrective")
async def corrective(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    results = list(state.tool_results)
    found = _search_tool(ctx)
    query = public_query(state)
    info: dict[str, Any] = {"query": query, "source": found[1] if found else None, "pmids": [], "added": 0}
    if found is None or not query:
        note(skipped="no public literature search tool")
        return {"corrective": {**info, "error": "no public search tool"}}
    name, _label = found
    props = _schema_props(ctx.tool_map()[name])
    arg = _pick(props, ("query", "term", "q", "text", "search")) if props else "query"
    args: dict[str, Any] = {arg or "query": query}
    if "max_results" in props:
        args["max_results"] = MAX_RECORDS
    search = await _call(runtime, results, name, args)
    info["search_ref"] = search["id"]
    pmids = _pmids(search.get("content")) if search["ok"] else []
    info["pmids"] = pmids
    if not search["ok"]:
        info["error"] = "search failed"
    elif pmids and INGEST_TOOL in ctx.tool_map():
        ingest = await _call(runtime, results, INGEST_TOOL, {"pmids": pmids})
        info["ingest_ref"] = ingest["id"]
        if ingest["ok"]:
            content = ingest.get("content") if isinstance(ingest.get("content"), dict) else {}
            added = content.get("added")  # the PMIDs added (those already in the library are "skipped")
            info["added"] = len(added) if isinstance(added, list) else len(pmids)
            info["skipped"] = len(content.get("skipped_existing") or [])
        else:
            info["error"] = "ingest failed"
    note(**info)
    update: dict[str, Any] = {"corrective": info, "tool_results": results}
    if info["added"]:
        # search the library again, now with the records pulled in
        update["pending_queries"] = [state.search_text or state.question_text, query]
    return update


def after_corrective(state: State) -> str:
    return "retrieve" if state.pending_queries else ("plan_tools" if state.route in ("tools", "both") else "answer")
