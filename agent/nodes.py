"""The graph's nodes: small async functions ``(state, runtime) -> update``, and the routers between them.

Every node runs inside ``traced``: it times the node, counts the tokens of its model calls and writes one
``step`` event to LangGraph's custom stream with what the node decided. Every model call has a deterministic
fallback, so a weak model (SmolLM2-135M) or a model error degrades the answer, never the run.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.constants import TAG_NOSTREAM
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, ValidationError

from agent import guards, prompts
from agent.citations import (
    check_citations,
    cited_ids,
    extractive_answer,
    has_cjk,
    is_garbage,
    is_reference_section,
    leaks_prompt,
    question_terms,
)
from agent.context import Context
from agent.state import State, turn_reset
from agent.tools import execute_tool_call

log = logging.getLogger(__name__)

MAX_TOOL_ITERATIONS = 3
# Completion caps for the structured steps (the answer uses the configured max_tokens).
STAGE_MAX_TOKENS = {"route": 96, "rewrite": 128, "grade": 160, "tools": 384}
MAX_NEW_QUERIES = 3
HISTORY_TURNS = 3


# ---------------------------------------------------------------------------------------------------------
# Tracing and model calls


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
                    **_jsonable(meter.data),
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


def _jsonable(data: Any) -> Any:
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
    um = getattr(msg, "usage_metadata", None)
    if um and (um.get("input_tokens") or um.get("output_tokens")):
        p_tok, c_tok, estimated = int(um.get("input_tokens", 0)), int(um.get("output_tokens", 0)), False
    else:
        p_tok = _estimate_tokens(messages)
        c_tok = _estimate_tokens(str(msg.content)) + 8 * len(msg.tool_calls or [])
        estimated = True
    ctx.tokens_used += p_tok + c_tok
    if meter is not None:
        meter.prompt_tokens += p_tok
        meter.completion_tokens += c_tok
        meter.estimated_tokens = meter.estimated_tokens or estimated
    return msg  # type: ignore[return-value]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def _error(exc: BaseException) -> str:
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


# ---------------------------------------------------------------------------------------------------------
# Structured outputs


class RouteDecision(BaseModel):
    """Which route the question needs."""

    route: Literal["direct", "retrieve", "tools", "both"] = Field(..., description="direct, retrieve, tools or both")
    reason: str = Field("", description="One short sentence.")


class SearchQueries(BaseModel):
    """English search queries for the literature library."""

    queries: list[str] = Field(..., min_length=1, max_length=5, description="1 to 3 short English queries.")


class PassageGrades(BaseModel):
    """Which passages are relevant to the question."""

    relevant: list[str] = Field(default_factory=list, description="Ids of relevant passages, e.g. ['P1', 'P3'].")
    sufficient: bool = Field(..., description="Do the relevant passages answer the question?")
    missing: str = Field("", description="What is missing, if not sufficient.")


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _history(state: State, turns: int = HISTORY_TURNS) -> list[BaseMessage]:
    """Earlier turns of the conversation (the current question excluded), shortened."""
    msgs = [m for m in state.messages if isinstance(m, (HumanMessage, AIMessage)) and not getattr(m, "tool_calls", None)]
    if msgs and isinstance(msgs[-1], HumanMessage):
        msgs = msgs[:-1]
    msgs = msgs[-2 * turns:]
    out: list[BaseMessage] = []
    for m in msgs:
        text = str(m.content)
        seqs, text = guards.extract_sequences(text)
        if len(text) > 600:
            text = text[:600] + " ..."
        out.append(type(m)(content=text))
    return out


def _previous_question(state: State) -> str:
    humans = [m for m in state.messages if isinstance(m, HumanMessage)]
    if len(humans) >= 2:
        prev_seqs, prev_text = guards.extract_sequences(_text(humans[-2].content))
        return guards.search_text(prev_text, prev_seqs, [])
    return ""


_PRONOUN_RE = re.compile(r"\b(it|its|they|them|their|this|that|these|those|the same|he|she)\b|它|其|这个|那个|它们|该", re.I)


def contextualise(question: str, previous: str) -> str:
    """Deterministic follow-up resolution: a short question with a pronoun inherits the previous keywords."""
    if not previous or not _PRONOUN_RE.search(question) or len(guards.keywords(question)) > 6:
        return question
    prev_terms = guards.keywords(guards.gloss_translate(previous) if has_cjk(previous) else previous)
    extra = [t for t in prev_terms if t.lower() not in question.lower()][:6]
    return f"{question} ({' '.join(extra)})" if extra else question


_SCHEMA_ECHO_RE = re.compile(r"://|function_name|functions\.|search_?quer|\bqueries\b|description:|\bjson\b|\bschema\b|[{}<>]", re.I)


def _valid_query(q: Any, question: str | None = None) -> bool:
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
        terms = {t.lower()[:5] for t in question_terms(question) if len(t) > 2}
        if terms:
            words = {w.lower()[:5] for w in re.findall(r"[A-Za-z][A-Za-z0-9\-]+", q)}
            if not terms & words and not has_cjk(q):
                return False
    return True


def lexical_score(question: str, text: str) -> float:
    """Share of the question's key terms found in the passage (5-letter prefixes, Chinese glossed)."""
    terms = {t.lower()[:5] for t in question_terms(question) if len(t) > 2}
    if not terms:
        return 0.0
    words = {w.lower()[:5] for w in re.findall(r"[A-Za-z][A-Za-z0-9\-]+", text)}
    return len(terms & words) / len(terms)


def passage_relevance(question: str, hit: dict[str, Any]) -> float:
    """Deterministic relevance in [0, 1]: the best of lexical overlap and a dense cosine score if present."""
    scores = hit.get("scores") or {}
    dense = 0.0
    for key in ("dense", "multilingual"):  # cosine similarities of the knowledge base's dense routes
        v = scores.get(key)
        if isinstance(v, (int, float)) and 0.0 <= v <= 1.0:
            dense = max(dense, float(v))
    return max(lexical_score(question, hit.get("title", "") + " " + hit.get("text", "")), dense)


def _answer_passages(state: State, ctx: Context) -> tuple[list[tuple[str, dict]], bool]:
    """Passages for the answer (P1..Pn) and whether they are only the best of irrelevant ones."""
    relevant = [p for p in state.passages if state.grades.get(p["chunk_id"])]
    relevant.sort(key=is_reference_section)  # bibliography chunks last (stable: retrieval order otherwise)
    if relevant:
        chosen, weak = relevant, False
    else:
        chosen, weak = state.passages[: min(3, ctx.max_context_passages)], True
    chosen = chosen[: ctx.max_context_passages]
    return [(f"P{i}", p) for i, p in enumerate(chosen, start=1)], weak


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


def _call_key(name: str, args: dict[str, Any]) -> str:
    return name + json.dumps(args, sort_keys=True, default=str)


# ---------------------------------------------------------------------------------------------------------
# Nodes


@traced("route")
async def route(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    humans = [m for m in state.messages if isinstance(m, HumanMessage)]
    question = _text(humans[-1].content) if humans else ""
    sequences, text = guards.extract_sequences(question)
    language = ctx.overrides.language or guards.detect_language(question)
    proteins = [s for s in sequences if s["kind"] == "protein"]
    mutations = guards.extract_mutations(text, proteins[0]["sequence"] if proteins else None)
    tools_available = ctx.overrides.tools_enabled != []
    guarded, reason, need_r, need_t = guards.guarded_route(
        text, sequences, retrieval_enabled=ctx.retrieval_enabled, tools_available=tools_available)
    llm_route, llm_status = None, "skipped (guards decided)"
    if guarded != "both" and (tools_available or ctx.retrieval_enabled):
        try:
            msg = await call_model(runtime, "route", [
                SystemMessage(prompts.ROUTE_SYSTEM), *_history(state, 2), HumanMessage(text)],
                tools=[RouteDecision], tool_choice="RouteDecision")
            decision = parse_structured(msg, RouteDecision)
            if decision is None:
                llm_status = "invalid structured output; guarded default used"
            else:
                llm_route, llm_status = decision.route, f"model chose {decision.route}: {decision.reason[:120]}"
        except Exception as exc:  # noqa: BLE001
            llm_status = f"model unavailable ({_error(exc)}); guarded default used"
    final = guards.combine_routes(guarded, llm_route, need_r, need_t, retrieval_enabled=ctx.retrieval_enabled,
                                  tools_available=tools_available)
    write_allowed = guards.write_intent(text)
    search = guards.search_text(text, sequences, mutations)
    note(route=final, guarded=guarded, guard_reason=reason, llm=llm_status, language=language,
         sequences=[{"id": s["id"], "kind": s["kind"], "length": len(s["sequence"])} for s in sequences],
         mutations=mutations, write_allowed=write_allowed)
    return {**turn_reset(question), "question": question, "question_text": text, "search_text": search,
            "language": language,
            "sequences": sequences,
            "mutations": mutations, "route": final, "route_reason": f"{reason}; {llm_status}",
            "write_allowed": write_allowed}


def after_route(state: State) -> Literal["rewrite", "plan_tools", "answer"]:
    if state.route in ("retrieve", "both"):
        return "rewrite"
    if state.route == "tools":
        return "plan_tools"
    return "answer"


@traced("rewrite")
async def rewrite(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    base = contextualise(state.search_text or state.question_text, _previous_question(state))
    searched = {q.lower() for q in state.queries}
    new: list[str] = []

    def add(q: str) -> None:
        q = re.sub(r"\s+", " ", q).strip()
        if _valid_query(q) and q.lower() not in searched and q.lower() not in {n.lower() for n in new}:
            new.append(q)

    first = state.rounds == 0
    if first:
        add(base)  # the question itself: the knowledge base's cross-lingual retrieval handles Chinese
    messages: list[BaseMessage] = [SystemMessage(prompts.REWRITE_SYSTEM), *_history(state, 2),
                                   HumanMessage(f"Question: {base}")]
    if not first:
        missing = f" (missing: {state.missing})" if state.missing else ""
        messages.append(HumanMessage(prompts.REWRITE_RETRY.format(previous="; ".join(state.queries), missing=missing)))
    llm_status = "ok"
    try:
        msg = await call_model(runtime, "rewrite", messages, tools=[SearchQueries], tool_choice="SearchQueries")
        parsed = parse_structured(msg, SearchQueries)
        if parsed is None:
            llm_status = "invalid structured output; deterministic queries used"
        else:
            valid = [q for q in parsed.queries if _valid_query(q, base)]
            for q in valid[:MAX_NEW_QUERIES]:
                add(q)
            if not valid:
                llm_status = "no usable query from the model; deterministic queries used"
    except Exception as exc:  # noqa: BLE001
        llm_status = f"model unavailable ({_error(exc)}); deterministic queries used"
    # Deterministic additions: an English keyword form (glossed for Chinese), then narrower/broader variants.
    english = guards.gloss_translate(base) if has_cjk(base) else base
    kw = guards.keywords(english)
    if kw:
        add(" ".join(kw))
    if not first and len(new) == 0:
        for variant in (" ".join(kw[:3]), " ".join(kw[-3:]), " ".join(kw) + " review"):
            add(variant)
            if new:
                break
    new = new[: MAX_NEW_QUERIES + (1 if first else 0)]
    note(round=state.rounds + 1, queries=new, model=llm_status)
    return {"pending_queries": new}


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
        errors.append(f"knowledge base unavailable: {_error(exc)}")
    if kb is not None and queries:
        async def one(q: str):
            return await asyncio.to_thread(kb.search, q, k=ctx.k, rerank=ctx.rerank)

        results = await asyncio.gather(*(one(q) for q in queries), return_exceptions=True)
        for q, res in zip(queries, results):
            if isinstance(res, BaseException):
                errors.append(f"search failed for {q!r}: {_error(res)}")
                continue
            hits = [h.model_dump() if hasattr(h, "model_dump") else dict(h) for h in res]
            per_query[q] = [{"chunk_id": h["chunk_id"], "title": h.get("title", ""), "score": h.get("score"),
                             "scores": h.get("scores", {})} for h in hits]
            for h in hits:
                old = merged.get(h["chunk_id"])
                h.setdefault("queries", [])
                if old is None:
                    h["queries"] = [q]
                    merged[h["chunk_id"]] = h
                else:
                    old["queries"] = list(dict.fromkeys([*old.get("queries", []), q]))
                    if (h.get("score") or 0) > (old.get("score") or 0):
                        h["queries"] = old["queries"]
                        merged[h["chunk_id"]] = h
    passages = sorted(merged.values(), key=lambda h: h.get("score") or 0.0, reverse=True)
    note(round=state.rounds + 1, queries=queries, hits=per_query, total_passages=len(passages),
         errors=errors[len(state.errors):])
    return {"passages": passages, "queries": [*state.queries, *queries], "pending_queries": [],
            "rounds": state.rounds + 1, "errors": errors}


@traced("grade")
async def grade(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    grades = dict(state.grades)
    question = contextualise(state.search_text or state.question_text, _previous_question(state))
    ungraded = [p for p in state.passages if p["chunk_id"] not in grades][: max(ctx.max_context_passages, ctx.k)]
    det = {p["chunk_id"]: passage_relevance(question, p) for p in ungraded}
    strong = max(0.75, ctx.grade_min_score + 0.25)
    llm_status, missing, llm_sufficient = "no new passages", "", None
    if ungraded:
        refs = {f"P{i}": p for i, p in enumerate(ungraded, start=1)}
        body = "\n".join(prompts.passage_block(r, p, max_chars=600) for r, p in refs.items())
        try:
            msg = await call_model(runtime, "grade", [
                SystemMessage(prompts.GRADE_SYSTEM),
                HumanMessage(f"Question: {question}\n\nPassages:\n{body}")],
                tools=[PassageGrades], tool_choice="PassageGrades")
            parsed = parse_structured(msg, PassageGrades)
        except Exception as exc:  # noqa: BLE001
            parsed = None
            llm_status = f"model unavailable ({_error(exc)}); score threshold used"
        else:
            llm_status = "ok" if parsed is not None else "invalid structured output; score threshold used"
        if parsed is not None and all(r in refs for r in parsed.relevant):
            chosen = {refs[r]["chunk_id"] for r in parsed.relevant}
            for p in ungraded:
                # the model's grades, except that a strong lexical match is never thrown away
                grades[p["chunk_id"]] = p["chunk_id"] in chosen or det[p["chunk_id"]] >= strong
            missing, llm_sufficient = parsed.missing, parsed.sufficient
        else:
            if parsed is not None:
                llm_status = "model named passages that were not shown; score threshold used"
            for p in ungraded:
                grades[p["chunk_id"]] = det[p["chunk_id"]] >= ctx.grade_min_score
    n_relevant = sum(1 for p in state.passages if grades.get(p["chunk_id"]))
    if not ungraded and state.rounds > 1:
        # nothing new came back: the previous verdict stands
        sufficient, missing = state.sufficient, state.missing
    else:
        sufficient = n_relevant > 0 and (llm_sufficient is not False or n_relevant >= 2)
    if not sufficient and not missing:
        found = " ".join(p.get("text", "") for p in state.passages if grades.get(p["chunk_id"])).lower()
        absent = [t for t in question_terms(question) if t.lower()[:5] not in found]
        missing = ("passages about " + ", ".join(dict.fromkeys(absent[:6]))) if absent else "relevant passages"
    note(model=llm_status, grades=[{"chunk_id": p["chunk_id"], "title": p.get("title", ""),
                                    "relevant": grades[p["chunk_id"]], "match": round(det[p["chunk_id"]], 3)}
                                   for p in ungraded],
         relevant=n_relevant, sufficient=sufficient, missing=missing if not sufficient else "")
    return {"grades": grades, "sufficient": sufficient, "missing": "" if sufficient else missing}


def after_grade(state: State, runtime: Runtime[Context]) -> Literal["rewrite", "plan_tools", "answer"]:
    if not state.sufficient and state.rounds - 1 < runtime.context.max_rounds:
        return "rewrite"
    if state.route in ("tools", "both"):
        return "plan_tools"
    return "answer"


def _allowed_tools(state: State, ctx: Context) -> dict[str, Any]:
    tools = ctx.tool_map()
    if not state.write_allowed:
        tools = {n: t for n, t in tools.items() if n not in guards.WRITE_TOOLS}
    return tools


def _bound_tools(state: State, ctx: Context) -> dict[str, Any]:
    """The tools offered to the model this turn: sequence tools for a sequence, else literature tools."""
    allowed = _allowed_tools(state, ctx)
    seq_names = guards.sequence_tool_names(allowed)
    if state.sequences:
        chosen = {n: t for n, t in allowed.items() if n in seq_names}
    else:
        chosen = {n: t for n, t in allowed.items() if n not in seq_names}
    return chosen or allowed


@traced("plan_tools")
async def plan_tools(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    allowed = _allowed_tools(state, ctx)
    all_tools = ctx.tool_map()
    done_keys = {_call_key(r["name"], r["args"]) for r in state.tool_results}
    remaining = ctx.max_tool_calls - len(state.tool_results)
    calls: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    update: dict[str, Any] = {"tool_iterations": state.tool_iterations + 1}

    def add(name: str, args: dict[str, Any], origin: str, call_id: str | None = None) -> None:
        key = _call_key(name, args)
        if key in done_keys or any(_call_key(c["name"], c["args"]) == key for c in calls):
            return
        if name not in allowed:
            why = ("not allowed: the user did not ask to change the library" if name in guards.WRITE_TOOLS
                   else "not an available tool")
            rejected.append({"name": name, "args": args, "origin": origin, "reason": why, "id": call_id})
            return
        if len(calls) >= remaining:
            rejected.append({"name": name, "args": args, "origin": origin, "reason": "tool-call limit reached",
                             "id": call_id})
            return
        calls.append({"name": name, "args": args, "id": call_id or f"call_{len(state.tool_results) + len(calls) + 1}",
                      "origin": origin})

    if not state.guard_calls_done:
        update["guard_calls_done"] = True
        if state.sequences:
            guard = guards.sequence_guard_calls(state.sequences, state.mutations, all_tools)
            for c in guard:
                add(c["name"], c["args"], "guard")
            if not guard:
                note(guard="no sequence tool available for the sequence in the message")
        elif guards.wants_public_search(state.question_text):
            for c in guards.literature_guard_calls(state.question_text, all_tools):
                add(c["name"], c["args"], "guard")
    model_status = "skipped"
    bound = _bound_tools(state, ctx)
    model_wanted_more = state.tool_iterations == 0 or any(
        isinstance(m, AIMessage) and m.tool_calls and m.response_metadata.get("origin") == "model"
        for m in state.tool_messages[-4:])
    if (bound and remaining - len(calls) > 0 and state.tool_iterations < MAX_TOOL_ITERATIONS
            and model_wanted_more):
        seq_info = "\n".join(
            prompts.fence(s["id"], "sequence", s["sequence"], f'kind="{s["kind"]}"') for s in state.sequences)
        content = state.question_text + (f"\n\nSequences:\n{seq_info}" if seq_info else "")
        if state.mutations:
            content += f"\n\nMutations named: {', '.join(state.mutations)}"
        if state.passages and state.route == "both":
            content += "\n\n(Literature passages were retrieved separately.)"
        messages: list[BaseMessage] = [SystemMessage(prompts.TOOLS_SYSTEM), *_history(state, 2), HumanMessage(content),
                                       *_tool_messages_for_model(state)]
        try:
            msg = await call_model(runtime, "tools", messages, tools=list(bound.values()))
            n_before = len(calls)
            for tc in msg.tool_calls or []:
                args = {k: _sequence_for_args(state, v) for k, v in (tc.get("args") or {}).items()}
                add(tc.get("name", ""), args, "model", tc.get("id"))
            model_status = f"model proposed {len(msg.tool_calls or [])} call(s), {len(calls) - n_before} kept"
            if msg.invalid_tool_calls:
                model_status += f"; {len(msg.invalid_tool_calls)} malformed call(s) ignored"
        except Exception as exc:  # noqa: BLE001
            model_status = f"model unavailable ({_error(exc)})"
    # Sequence tools that could not be loaded: the model and the user see why.
    if state.sequences and not state.tool_results and not calls and not guards.sequence_tool_names(all_tools):
        rejected.append({"name": "sequence tools", "args": {}, "origin": "guard",
                         "reason": "tools disabled for this run" if ctx.overrides.tools_enabled == []
                         else (ctx.tool_status.get("sequence", {}).get("detail")
                               or "the sequence MCP server is not available"), "id": None})
    results = list(state.tool_results)
    messages_out = list(state.tool_messages)
    if rejected:
        rej_msgs = []
        ai_calls = []
        for r in rejected:
            ref = f"T{len(results) + 1}"
            res = {"id": ref, "name": r["name"], "args": r["args"], "ok": False, "content": None,
                   "error": f"call rejected: {r['reason']}", "duration_ms": 0.0}
            if r["reason"] != "tool-call limit reached":
                results.append(res)
            tc_id = r["id"] or f"rejected_{ref}"
            ai_calls.append({"name": r["name"], "args": r["args"], "id": tc_id})
            rej_msgs.append(ToolMessage(content=res["error"], tool_call_id=tc_id, status="error", name=r["name"]))
        messages_out += [AIMessage(content="", tool_calls=ai_calls, response_metadata={"origin": "rejected"}), *rej_msgs]
        update["tool_results"] = results
        update["tool_messages"] = messages_out
    note(iteration=state.tool_iterations + 1, calls=[{k: c[k] for k in ("name", "args", "origin")} for c in calls],
         rejected=[{k: r[k] for k in ("name", "origin", "reason")} for r in rejected], model=model_status,
         bound_tools=sorted(bound), remaining=remaining - len(calls))
    update["pending_tool_calls"] = calls
    return update


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
                               "data": {"id": ref, "name": c["name"], "args": _jsonable(c["args"]),
                                        "origin": c["origin"]}})
    outs = await asyncio.gather(*(
        execute_tool_call(tools.get(c["name"]), c, ref, timeout) for ref, c in zip(refs, calls)))
    ai = AIMessage(content="", tool_calls=[{"name": c["name"], "args": c["args"], "id": c["id"]} for c in calls],
                   response_metadata={"origin": "model" if any(c["origin"] == "model" for c in calls) else "guard"})
    tool_msgs: list[AnyMessage] = []
    for c, out in zip(calls, outs):
        results.append(out)
        runtime.stream_writer({"type": "tool_result", "node": "run_tools", "data": _jsonable(out)})
        body = prompts.tool_content_text(out["content"]) if out["ok"] else f"ERROR: {out['error']}"
        tool_msgs.append(ToolMessage(content=f"[{out['id']}] {body}", tool_call_id=c["id"], name=c["name"],
                                     status="success" if out["ok"] else "error"))
    note(results=[{"id": o["id"], "name": o["name"], "ok": o["ok"], "error": o["error"],
                   "duration_ms": o["duration_ms"]} for o in outs])
    return {"tool_results": results, "pending_tool_calls": [],
            "tool_messages": [*state.tool_messages, ai, *tool_msgs]}


def after_run_tools(state: State, runtime: Runtime[Context]) -> Literal["plan_tools", "answer"]:
    """Back to the model only if it asked for tools itself and may call more; guard calls alone go on."""
    last = next((m for m in reversed(state.tool_messages) if isinstance(m, AIMessage) and m.tool_calls), None)
    model_called = last is not None and last.response_metadata.get("origin") == "model"
    more = len(state.tool_results) < runtime.context.max_tool_calls and state.tool_iterations < MAX_TOOL_ITERATIONS
    return "plan_tools" if model_called and more else "answer"


def _prompt_budget_chars(ctx: Context) -> int:
    """Characters the answer prompt may use: the context window less the completion and the chat template,
    at 2.5 characters a token (measured with SmolLM2's tokenizer: ~3 for prose, less for JSON and sequences)."""
    llm = ctx.settings.llm
    max_tokens = ctx.overrides.max_tokens or llm.max_tokens
    return max(2000, int((llm.n_ctx - max_tokens - 256) * 2.5))


@traced("answer")
async def answer(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    lang = state.language
    system = prompts.ANSWER_SYSTEM.format(language_rule=prompts.LANGUAGE_RULE.get(lang, "in English"))
    passages, weak = _answer_passages(state, ctx)
    retrieved = state.route in ("retrieve", "both")
    insufficient = retrieved and (not state.sufficient or weak)
    history = _history(state)
    if state.route == "direct" and not state.tool_results:
        user = state.question_text
    else:
        # Fit the prompt into the model's context: shorten passages and tool results, then drop history, then
        # the last passages (never below one).
        budget = _prompt_budget_chars(ctx)
        for p_chars, t_chars in ((1200, 1500), (800, 900), (500, 600), (300, 400)):
            user = prompts.answer_user_message(state.question_text, passages, state.tool_results, insufficient,
                                               state.missing, lang, p_chars, t_chars)
            if len(system) + len(user) + sum(len(str(m.content)) for m in history) <= budget:
                break
        else:
            history = []
            while len(passages) > 1 and len(system) + len(user) > budget:
                passages = passages[:-1]
                user = prompts.answer_user_message(state.question_text, passages, state.tool_results,
                                                   insufficient, state.missing, lang, 300, 400)
    draft, status = "", "ok"
    try:
        msg = await call_model(runtime, "answer", [SystemMessage(system), *history, HumanMessage(user)],
                               stream=True, optional=False)
        draft = msg.content if isinstance(msg.content, str) else " ".join(
            b.get("text", "") for b in msg.content if isinstance(b, dict))
    except Exception as exc:  # noqa: BLE001
        status = f"model unavailable ({_error(exc)}); extractive answer"
    note(model=status, passages=[{"ref": r, "chunk_id": p["chunk_id"], "title": p.get("title", "")}
                                 for r, p in passages],
         tools=[r["id"] for r in state.tool_results], insufficient=insufficient, draft_chars=len(draft))
    return {"draft": draft, "insufficient_evidence": insufficient, "context_passages": [p for _, p in passages]}


@traced("verify")
async def verify(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    lang = state.language
    passages = [(f"P{i}", p) for i, p in enumerate(state.context_passages, start=1)]
    passage_refs = {r: p for r, p in passages}
    tool_refs = {r["id"]: r for r in state.tool_results}
    system = prompts.ANSWER_SYSTEM.format(language_rule=prompts.LANGUAGE_RULE.get(lang, "in English"))
    draft = (state.draft or "").strip()
    text, citations, invalid = check_citations(draft, passage_refs, tool_refs)
    evidence = bool(passages) or bool(state.tool_results)
    reasons = []
    if is_garbage(text):
        reasons.append("empty or degenerate answer")
    if leaks_prompt(text, system) or leaks_prompt(text, prompts.TOOLS_SYSTEM):
        reasons.append("answer repeats the system prompt")
    if lang == "zh" and text and not has_cjk(text):
        reasons.append("answer not in the user's language")
    direct = state.route == "direct" and not state.tool_results
    if not direct and evidence and not citations:
        reasons.append("no valid citation")
    used_fallback = bool(reasons)
    if used_fallback:
        if direct:
            text = prompts.DIRECT_FALLBACK.get(lang, prompts.DIRECT_FALLBACK["en"])
        else:
            terms = question_terms(state.search_text or state.question_text)
            text = extractive_answer(terms, passages, state.tool_results, lang, state.insufficient_evidence,
                                     state.missing, max_passages=3)
        text, citations, more_invalid = check_citations(text, passage_refs, tool_refs)
        invalid += [i for i in more_invalid if i not in invalid]
    elif state.insufficient_evidence and state.missing:
        line = prompts.MISSING.get(lang, prompts.MISSING["en"]).format(what=state.missing)
        if state.missing not in text:
            text = f"{text}\n\n{line}"
    note(citations=[c["ref"] for c in citations], invalid_citations=invalid, fallback=used_fallback,
         fallback_reasons=reasons, uncited_ids=[i for i in cited_ids(draft) if i not in passage_refs | tool_refs])
    return {"answer": text, "citations": citations, "invalid_citations": invalid, "used_fallback": used_fallback,
            "messages": [AIMessage(content=text)]}
