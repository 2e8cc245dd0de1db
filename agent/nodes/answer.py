"""``answer``: the draft answer.

evidence: composed from the passages' sentences and the tool results, no model call (``agent.compose``).
guarded: the model writes from the fenced passages and tool results. agentic: first a PaperQA2-style evidence
step (per passage, in parallel: a question-focused summary with a 0-10 relevance score), then the model writes
from the passages in order of that relevance, each shown with its summary. An empty library is said plainly,
without a model call, in every mode.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from agent import prompts
from agent.compose import EMPTY_LIBRARY, compose_answer, encoder_for
from agent.context import Context
from agent.model_calls import call_model, error_line, message_text, note, parse_structured, traced
from agent.nodes.common import answer_passages, history
from agent.nodes.grade import passage_relevance
from agent.nodes.schemas import PassageEvidence
from agent.state import State
from agent.tool_statements import finding_queries

MIN_RELEVANCE = 3
"""agentic evidence step: passages scored below this (0-10) are left out of the answer prompt."""


def _prompt_budget_chars(ctx: Context) -> int:
    """Characters the answer prompt may use: the context window less the completion and the chat template,
    at 2.5 characters a token (measured with SmolLM2's tokenizer: ~3 for prose, less for JSON and sequences)."""
    llm = ctx.settings.llm
    max_tokens = ctx.overrides.max_tokens or llm.max_tokens
    return max(2000, int((llm.n_ctx - max_tokens - 256) * 2.5))


def answer_prompt(state: State, ctx: Context, passages: list[tuple[str, dict]], insufficient: bool,
                  feedback: str = "") -> tuple[list[BaseMessage], list[tuple[str, dict]]]:
    """The answer model's messages, fitted into its context window (passages and tool results shortened, then
    history dropped, then the last passages, never below one), and the passages it kept."""
    lang = state.language
    system = prompts.ANSWER_SYSTEM.format(language_rule=prompts.LANGUAGE_RULE.get(lang, "in English"))
    instructions = (ctx.overrides.instructions or "").strip()
    if instructions:  # the caller's system prompt (OpenAI API), after bioagent's own rules
        system += prompts.USER_INSTRUCTIONS.format(instructions=instructions)
    hist = history(state)
    tools = state.tool_results  # failed calls are shown (fenced as not citable) so the model can say what failed
    if state.route == "direct" and not state.tool_results:
        user = state.question_text
    else:
        budget = _prompt_budget_chars(ctx)
        for p_chars, t_chars in ((1200, 1500), (800, 900), (500, 600), (300, 400)):
            user = prompts.answer_user_message(state.question_text, passages, tools, insufficient, state.missing,
                                               lang, p_chars, t_chars)
            if len(system) + len(user) + sum(len(str(m.content)) for m in hist) <= budget:
                break
        else:
            hist = []
            while len(passages) > 1 and len(system) + len(user) > budget:
                passages = passages[:-1]
                user = prompts.answer_user_message(state.question_text, passages, tools, insufficient,
                                                   state.missing, lang, 300, 400)
    if feedback:
        user += "\n\n" + feedback
    return [SystemMessage(system), *hist, HumanMessage(user)], passages


async def _passage_evidence(runtime: Runtime[Context], question: str, ref: str, hit: dict) -> dict[str, Any]:
    """One passage's question-focused summary and 0-10 relevance (deterministic score when the reply is unusable)."""
    fallback = {"summary": "", "relevance": round(10 * passage_relevance(question, hit)), "source": "score"}
    try:
        msg = await call_model(runtime, "evidence", [
            SystemMessage(prompts.EVIDENCE_SYSTEM),
            HumanMessage(f"Question: {question}\n\n{prompts.passage_block(ref, hit, 1500)}")],
            tools=[PassageEvidence], tool_choice="PassageEvidence")
    except Exception as exc:  # noqa: BLE001
        return {**fallback, "error": error_line(exc)}
    parsed = parse_structured(msg, PassageEvidence)
    if parsed is None:
        return fallback
    return {"summary": parsed.summary.strip(), "relevance": parsed.relevance, "source": "model"}


async def gather_evidence(runtime: Runtime[Context], state: State, passages: list[tuple[str, dict]]
                          ) -> list[tuple[str, dict]]:
    """The passages worth answering from, most relevant first, each with its summary (renumbered P1..Pn)."""
    question = state.search_text or state.question_text
    found = await asyncio.gather(*(_passage_evidence(runtime, question, ref, hit) for ref, hit in passages))
    scored = sorted(zip(passages, found), key=lambda x: -x[1]["relevance"])
    kept = [({**hit, "evidence": ev}) for (_ref, hit), ev in scored if ev["relevance"] >= MIN_RELEVANCE]
    note(evidence=[{"chunk_id": hit["chunk_id"], "relevance": ev["relevance"], "source": ev["source"],
                    "summary": ev["summary"][:200], **({"error": ev["error"]} if "error" in ev else {})}
                   for (_r, hit), ev in scored])
    return [(f"P{i}", hit) for i, hit in enumerate(kept, start=1)]


async def _motif_passages(state: State, ctx: Context, passages: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Where tools and library meet: a named mutation inside a found motif brings the library's passages on
    that motif (one search); the composer ranks sentences against the motif too (``finding_queries``)."""
    focus = finding_queries(state.tool_results, state.mutations)
    if not focus or state.library_empty:
        return passages
    try:
        kb = await ctx.get_kb()
        hits = await asyncio.to_thread(kb.search, " ".join(focus), k=3)
    except Exception:  # noqa: BLE001 - the answer goes on with what retrieval found
        return passages
    have = {p["chunk_id"] for _, p in passages}
    extra = [h.model_dump() if hasattr(h, "model_dump") else dict(h) for h in hits]
    extra = [h for h in extra if h["chunk_id"] not in have][:2]
    merged = [p for _, p in passages] + extra
    note(motif_passages=[h["chunk_id"] for h in extra])
    return [(f"P{i}", p) for i, p in enumerate(merged, start=1)]


@traced("answer")
async def answer(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    lang = state.language
    passages, weak = answer_passages(state, ctx)
    retrieved = state.route in ("retrieve", "both")
    insufficient = retrieved and (not state.sufficient or weak)
    out: dict[str, Any] = {"insufficient_evidence": insufficient}
    if state.library_empty and not state.tool_results:
        text = EMPTY_LIBRARY.get(lang, EMPTY_LIBRARY["en"])
        note(model="skipped: the library is empty", answer_mode="evidence")
        return {**out, "draft": text, "answer_mode": "evidence", "context_passages": []}
    if ctx.mode == "evidence":
        if state.route == "direct" and not state.tool_results:
            text, details = prompts.DIRECT_FALLBACK.get(lang, prompts.DIRECT_FALLBACK["en"]), {}
        else:
            passages = await _motif_passages(state, ctx, passages)
            encode = encoder_for(ctx.settings) if passages else None
            text, details = await asyncio.to_thread(
                compose_answer, state.search_text or state.question_text, lang, passages, state.tool_results, state.mutations, insufficient,
                state.missing, encode)
        if (ctx.overrides.instructions or "").strip():
            details["instructions"] = "not used: evidence mode composes the answer without a model"
        note(model="skipped (evidence mode): composed from the evidence", **details,
             passages=[{"ref": r, "chunk_id": p["chunk_id"], "title": p.get("title", "")} for r, p in passages])
        return {**out, "draft": text, "answer_mode": "evidence", "context_passages": [p for _, p in passages]}
    if ctx.mode == "agentic" and passages:
        passages = await gather_evidence(runtime, state, passages)
        if not passages:
            insufficient = retrieved
            out["insufficient_evidence"] = insufficient
    draft, status = "", "ok"
    try:
        messages, passages = answer_prompt(state, ctx, passages, insufficient)
        msg = await call_model(runtime, "answer", messages, stream=True, optional=False)
        draft = message_text(msg.content)
    except Exception as exc:  # noqa: BLE001
        status = f"model unavailable ({error_line(exc)}); the evidence composer answers"
    if (ctx.overrides.instructions or "").strip():
        note(instructions=f"used: added to the answer's system prompt ({len(ctx.overrides.instructions.strip())} "
                          "characters)")
    note(model=status, passages=[{"ref": r, "chunk_id": p["chunk_id"], "title": p.get("title", "")}
                                 for r, p in passages],
         tools=[r["id"] for r in state.tool_results], insufficient=insufficient, draft_chars=len(draft))
    return {**out, "draft": draft, "answer_mode": "model", "context_passages": [p for _, p in passages]}
