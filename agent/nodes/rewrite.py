"""``rewrite``: the queries to search this round.

The question itself is always searched first. guarded: the model's queries (kept only when they share a key
term with the question) plus a deterministic keyword query. agentic: the model's queries decide; keyword
queries only when it gives none usable. evidence: keyword queries only, no model call.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from agent import prompts
from agent.context import Context
from agent.model_calls import call_model, error_line, note, parse_structured, traced
from agent.nodes.common import contextualise, history, previous_question
from agent.nodes.schemas import SearchQueries
from agent.query_heuristics import gloss_translate, key_terms, keywords, prefixes
from agent.sequence_detect import CJK_RE
from agent.state import State

MAX_NEW_QUERIES = 3
_SCHEMA_ECHO_RE = re.compile(r"://|function_name|functions\.|search_?quer|\bqueries\b|description:|\bjson\b|\bschema\b|[{}<>]", re.I)


def valid_query(q: Any, question: str | None = None) -> bool:
    """A usable search query: short, plain words, no echo of the prompt or schema, and (when a question is
    given) sharing a key term with it, so a weak model's free association is not searched."""
    if not isinstance(q, str):
        return False
    q = q.strip()
    if not (3 <= len(q) <= 200):
        return False
    if re.search(r"ignore (?:all|your|previous)|system prompt|add_to_library", q, re.I) or _SCHEMA_ECHO_RE.search(q):
        return False
    if not re.search(r"[A-Za-z\u4e00-\u9fff]{3}", q):
        return False
    if question is not None:
        terms = key_terms(question)
        if terms and not terms & prefixes(q) and not CJK_RE.search(q):
            return False
    return True


@traced("rewrite")
async def rewrite(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    base = contextualise(state.search_text or state.question_text, previous_question(state))
    searched = {q.lower() for q in state.queries}
    new: list[str] = []

    def add(q: str) -> None:
        q = re.sub(r"\s+", " ", q).strip()
        if valid_query(q) and q.lower() not in searched and q.lower() not in {n.lower() for n in new}:
            new.append(q)

    first = state.rounds == 0
    if first:
        add(base)  # the question itself: the knowledge base's cross-lingual retrieval handles Chinese
    model_queries: list[str] = []
    if ctx.mode == "evidence":
        llm_status = "skipped (evidence mode)"
    else:
        messages: list[BaseMessage] = [SystemMessage(prompts.REWRITE_SYSTEM), *history(state, 2),
                                       HumanMessage(f"Question: {base}")]
        if not first:
            missing = f" (missing: {state.missing})" if state.missing else ""
            messages.append(HumanMessage(prompts.REWRITE_RETRY.format(previous="; ".join(state.queries),
                                                                       missing=missing)))
        llm_status = "ok"
        try:
            msg = await call_model(runtime, "rewrite", messages, tools=[SearchQueries], tool_choice="SearchQueries")
            parsed = parse_structured(msg, SearchQueries)
            if parsed is None:
                llm_status = "invalid structured output; deterministic queries used"
            else:
                # agentic: any well-formed query; guarded: only queries that share a key term with the question
                model_queries = [q for q in parsed.queries
                                 if valid_query(q, None if ctx.mode == "agentic" else base)][:MAX_NEW_QUERIES]
                for q in model_queries:
                    add(q)
                if not model_queries:
                    llm_status = "no usable query from the model; deterministic queries used"
        except Exception as exc:  # noqa: BLE001
            llm_status = f"model unavailable ({error_line(exc)}); deterministic queries used"
    # Deterministic additions: an English keyword form (glossed for Chinese), then narrower/broader variants.
    english = gloss_translate(base) if CJK_RE.search(base) else base
    kw = keywords(english)
    if kw and not (ctx.mode == "agentic" and model_queries):
        add(" ".join(kw))
    if not first and len(new) == 0:
        for variant in (" ".join(kw[:3]), " ".join(kw[-3:]), " ".join(kw) + " review"):
            add(variant)
            if new:
                break
    new = new[: MAX_NEW_QUERIES + (1 if first else 0)]
    note(round=state.rounds + 1, queries=new, model=llm_status)
    return {"pending_queries": new}
