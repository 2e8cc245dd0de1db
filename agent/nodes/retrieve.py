"""``retrieve``: search the library with this round's queries and merge the hits (deduplicated by chunk id).

A follow-up question in a thread also gets the passages the thread's earlier answers used (``memory``), so
"and what does it do?" can be answered from what was already found; they are graded like any other hit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from agent.context import Context
from agent.model_calls import error_line, note, traced
from agent.nodes.common import is_follow_up, previous_question
from agent.state import State


def _key(h: dict) -> tuple[int, float]:
    return h.get("rank", 10**6), -(h.get("score") or 0.0)


def merge_hits(merged: dict[str, dict], query: str, hits: list[dict]) -> None:
    """Add one search's hits (in its order) to the passages found so far, keyed by chunk id: a passage keeps its
    best rank in any search (then its best score) and the list of queries that found it."""
    for rank, h in enumerate(hits, 1):
        h = {**h, "rank": rank}
        old = merged.get(h["chunk_id"])
        if old is None:
            merged[h["chunk_id"]] = {**h, "queries": [query]}
            continue
        queries = list(dict.fromkeys([*old.get("queries", []), query]))
        merged[h["chunk_id"]] = {**(h if _key(h) < _key(old) else old), "queries": queries}


def ordered(merged: dict[str, dict]) -> list[dict]:
    """Scores of different searches are not on one scale (an English search is fused by DBSF, a Chinese one by
    RRF, a reranked one by the cross-encoder), so passages are ordered by their best rank, then score."""
    return sorted(merged.values(), key=_key)


@traced("retrieve")
async def retrieve(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    errors = list(state.errors)
    merged: dict[str, dict] = {p["chunk_id"]: dict(p) for p in state.passages}
    per_query: dict[str, list[dict]] = {}
    queries = state.pending_queries or ([state.search_text or state.question_text] if not state.queries else [])
    try:
        kb = await ctx.get_kb()
    except Exception as exc:  # noqa: BLE001
        kb = None
        errors.append(f"knowledge base unavailable: {error_line(exc)}")
    if kb is not None and queries:
        async def one(q: str):
            return await asyncio.to_thread(kb.search, q, k=ctx.k, rerank=ctx.rerank)

        results = await asyncio.gather(*(one(q) for q in queries), return_exceptions=True)
        for q, res in zip(queries, results):
            if isinstance(res, BaseException):
                errors.append(f"search failed for {q!r}: {error_line(res)}")
                continue
            hits = [h.model_dump() if hasattr(h, "model_dump") else dict(h) for h in res]
            per_query[q] = [{"chunk_id": h["chunk_id"], "title": h.get("title", ""), "score": h.get("score"),
                             "scores": h.get("scores", {})} for h in hits]
            merge_hits(merged, q, hits)
    passages = ordered(merged)
    reused = []
    if state.rounds == 0 and state.memory_passages and is_follow_up(state.question_text, previous_question(state)):
        for p in state.memory_passages:
            if p["chunk_id"] not in merged:
                passages.append({**p, "queries": ["(earlier in this thread)"], "memory": True})
                reused.append(p["chunk_id"])
    note(round=state.rounds + 1, queries=queries, hits=per_query, total_passages=len(passages), reused_from_thread=reused,
         errors=errors[len(state.errors):])
    return {"passages": passages, "queries": [*state.queries, *queries], "pending_queries": [],
            "rounds": state.rounds + 1, "errors": errors}

