"""What several nodes share: the conversation history given to the model, follow-up resolution, the passages
an answer may cite, and the thread's evidence memory."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

import json

from agent.citations import is_reference_section, strip_citation_tags
from agent.context import Context
from agent.model_calls import message_text
from agent.query_heuristics import gloss_translate, keywords, search_text
from agent.sequence_detect import CJK_RE, extract_sequences
from agent.state import State

HISTORY_TURNS = 3
MEMORY_PASSAGES = 8
MEMORY_TOOLS = 6


def history(state: State, turns: int = HISTORY_TURNS) -> list[BaseMessage]:
    """Earlier turns of the conversation (the current question excluded), shortened, sequences replaced by
    placeholders and the old ``[P#]``/``[T#]`` tags removed (ids are renumbered every turn)."""
    msgs = [m for m in state.messages if isinstance(m, (HumanMessage, AIMessage)) and not getattr(m, "tool_calls", None)]
    if msgs and isinstance(msgs[-1], HumanMessage):
        msgs = msgs[:-1]
    msgs = msgs[-2 * turns:]
    out: list[BaseMessage] = []
    for m in msgs:
        _seqs, text = extract_sequences(message_text(m.content))
        text = strip_citation_tags(text)
        if len(text) > 600:
            text = text[:600] + " ..."
        out.append(type(m)(content=text))
    return out


def previous_question(state: State) -> str:
    humans = [m for m in state.messages if isinstance(m, HumanMessage)]
    if len(humans) >= 2:
        prev_seqs, prev_text = extract_sequences(message_text(humans[-2].content))
        return search_text(prev_text, prev_seqs, [])
    return ""


_PRONOUN_RE = re.compile(r"\b(it|its|they|them|their|this|that|these|those|the same|he|she)\b|它|其|这个|那个|它们|该", re.I)


def is_follow_up(question: str, previous: str) -> bool:
    """A short question with a pronoun, after an earlier question in the thread."""
    return bool(previous) and bool(_PRONOUN_RE.search(question)) and len(keywords(question)) <= 6


def contextualise(question: str, previous: str) -> str:
    """Deterministic follow-up resolution: a short question with a pronoun inherits the previous keywords."""
    if not is_follow_up(question, previous):
        return question
    prev_terms = keywords(gloss_translate(previous) if CJK_RE.search(previous) else previous)
    extra = [t for t in prev_terms if t.lower() not in question.lower()][:6]
    return f"{question} ({' '.join(extra)})" if extra else question


def answer_passages(state: State, ctx: Context) -> tuple[list[tuple[str, dict]], bool]:
    """Passages for the answer (P1..Pn) and whether they are only the best of irrelevant ones."""
    relevant = [p for p in state.passages if state.grades.get(p["chunk_id"])]
    relevant.sort(key=is_reference_section)  # bibliography chunks last (stable: retrieval order otherwise)
    if relevant:
        chosen, weak = relevant, False
    else:
        chosen, weak = state.passages[: min(3, ctx.max_context_passages)], True
    chosen = chosen[: ctx.max_context_passages]
    return [(f"P{i}", p) for i, p in enumerate(chosen, start=1)], weak


def citable_tools(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tool results an answer may cite: the successful ones (a failed or rejected call proves nothing)."""
    return {r["id"]: r for r in results if r.get("ok")}


_SEQ_LIKE_RE = re.compile(r"^[A-Za-z*\-\s]+$")


def _normalise_arg(value: Any) -> Any:
    """An argument as the dedupe key sees it: a sequence without its FASTA header, white space or case; text
    with white space collapsed and lower-cased; lists and dicts element by element."""
    if isinstance(value, str):
        v = value.strip()
        if v.startswith(">"):
            v = v.split("\n", 1)[1] if "\n" in v else ""
        compact = re.sub(r"\s+", "", v)
        if len(compact) >= 20 and _SEQ_LIKE_RE.match(v) and (" " not in v.strip() or "\n" in v):
            return compact.upper().rstrip("*")
        return re.sub(r"\s+", " ", v).lower()
    if isinstance(value, (list, tuple)):
        return [_normalise_arg(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise_arg(v) for k, v in value.items()}
    return value


def call_key(name: str, args: dict[str, Any]) -> str:
    """Two calls with the same key do the same work (FASTA header, white space and case ignored)."""
    return name + json.dumps(_normalise_arg(args), sort_keys=True, default=str)


def remember(state: State, passages: list[dict[str, Any]]) -> dict[str, Any]:
    """The thread's evidence after this turn: its cited passages and successful tool results, newest first."""
    seen: set[str] = set()
    mem_p: list[dict[str, Any]] = []
    for p in [*passages, *state.memory_passages]:
        if p["chunk_id"] not in seen:
            seen.add(p["chunk_id"])
            mem_p.append(p)
    keys: set[str] = set()
    mem_t: list[dict[str, Any]] = []
    for r in [*[r for r in state.tool_results if r.get("ok") and not r.get("memory")], *state.memory_tools]:
        k = call_key(r["name"], r.get("args") or {})
        if k not in keys:
            keys.add(k)
            mem_t.append({k2: v for k2, v in r.items() if k2 != "memory"})
    return {"memory_passages": mem_p[:MEMORY_PASSAGES], "memory_tools": mem_t[:MEMORY_TOOLS]}
