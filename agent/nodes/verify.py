"""``verify``: check the draft, claim by claim, and produce the answer.

1. Citations: ids that this run did not retrieve or compute are removed; ids of failed or rejected tool calls
   are not citable (removed and flagged).
2. A model's draft that is degenerate, repeats the prompt or internal error text, is in the wrong language or
   cites nothing is replaced by the evidence composer's answer (``answer_mode="fallback"``).
3. Claims (``agent.claims``): every sentence is scored against what it cites; the verdicts go to the trace and
   ``RunResult.claims``; unsupported claims are marked or removed (``agent.claim_policy``). In agentic mode the
   run's model also judges each passage claim of its own draft (a second verdict: "not supported" wins), and a
   model draft with unsupported claims is written again once, with the verdicts as feedback.
4. Failed tool calls are one line each; what the agent pulled from PubMed is said; the thread remembers the
   evidence for follow-up questions.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from agent import prompts
from agent.citations import check_citations, cited_ids, has_cjk, is_garbage, leaks_prompt
from agent.compose import closing_lines, compose_answer, encoder_for
from agent.claims import apply_verdicts, check_answer
from agent.context import Context
from agent.model_calls import call_model, error_line, message_text, note, record_usage, traced
from agent.nodes.answer import answer_prompt
from agent.nodes.common import citable_tools, remember
from agent.state import State

_INTERNAL_RE = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception|ExceptionGroup)\b|Traceback \(most recent call")


def problems(text: str, state: State, evidence: bool, citations: list) -> list[str]:
    """Why a model's draft cannot be shown (empty list: it can)."""
    lang = state.language
    system = prompts.ANSWER_SYSTEM.format(language_rule=prompts.LANGUAGE_RULE.get(lang, "in English"))
    reasons = []
    if is_garbage(text):
        reasons.append("empty or degenerate answer")
    low = text.lower()
    if leaks_prompt(text, system) or leaks_prompt(text, prompts.TOOLS_SYSTEM):
        reasons.append("answer repeats the system prompt")
    if any(p in low for p in prompts.INSTRUCTION_PHRASES):
        reasons.append("answer repeats the prompt's instructions")
    if _INTERNAL_RE.search(text):
        reasons.append("answer repeats internal error text")
    if lang == "zh" and text and not has_cjk(text):
        reasons.append("answer not in the user's language")
    direct = state.route == "direct" and not state.tool_results
    if not direct and evidence and not citations:
        reasons.append("no valid citation")
    return reasons


def check_claims(text: str, passage_refs: dict[str, dict], tool_refs: dict[str, dict], judge=None,
                 ctx: Context | None = None) -> list[Any] | None:
    """Claim verdicts (``agent.claims.check_answer``), or None when the claim checker cannot run (the reason is
    logged once per run in the trace). ``judge``: a chat model that gives each passage claim a second verdict
    (agentic mode), its calls counted in the run's budget and the node's meter."""
    count = (lambda messages, msg: record_usage(ctx, messages, msg, calls=1)) if judge is not None and ctx else None
    try:
        return check_answer(text, {r: p.get("text", "") for r, p in passage_refs.items()}, dict(tool_refs),
                            judge_model=judge, on_judge_reply=count)
    except (RuntimeError, OSError) as exc:  # e.g. the fitted support model is missing
        note(claim_checker_error=str(exc).splitlines()[0][:200])
        return None


async def _judge(ctx: Context, answer_mode: str):
    """The run's chat model as the claim judge: in agentic mode, for a model-written answer (the composer's
    sentences are quoted verbatim), while the token budget lasts; else None."""
    if ctx.mode != "agentic" or answer_mode != "model" or ctx.tokens_used >= ctx.max_run_tokens:
        return None
    return await ctx.get_model()


def _feedback(verdicts: list[Any]) -> str:
    bad = [v for v in verdicts if not v.supported and not getattr(v, "exempt", False)]
    lines = [f'- "{v.text[:200]}": {"; ".join(v.reasons[:2]) or "not supported"}' for v in bad[:6]]
    return prompts.REGENERATE.format(verdicts="\n".join(lines))


def _unsupported(verdicts: list[Any] | None) -> list[Any]:
    return [v for v in verdicts or [] if not v.supported and not getattr(v, "exempt", False)]


def _compose(state: State, ctx: Context, passages: list[tuple[str, dict]]) -> str:
    encode = encoder_for(ctx.settings) if passages else None
    text, _ = compose_answer(state.search_text or state.question_text, state.language, passages,
                             state.tool_results, state.mutations, state.insufficient_evidence, state.missing, encode)
    return text


@traced("verify")
async def verify(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    lang = state.language
    passages = [(f"P{i}", p) for i, p in enumerate(state.context_passages, start=1)]
    passage_refs = dict(passages)
    tool_refs = citable_tools(state.tool_results)
    failed = {r["id"] for r in state.tool_results if not r.get("ok")}
    draft = (state.draft or "").strip()
    answer_mode = state.answer_mode
    text, citations, invalid = check_citations(draft, passage_refs, tool_refs)
    evidence = bool(passages) or bool(tool_refs)
    reasons = problems(text, state, evidence, citations) if answer_mode == "model" else []
    direct = state.route == "direct" and not state.tool_results
    if reasons:
        answer_mode = "fallback"
        text = (prompts.DIRECT_FALLBACK.get(lang, prompts.DIRECT_FALLBACK["en"]) if direct
                else await asyncio.to_thread(_compose, state, ctx, passages))
        text, citations, more = check_citations(text, passage_refs, tool_refs)
        invalid += [i for i in more if i not in invalid]
    judge = await _judge(ctx, answer_mode)
    verdicts = None if direct or state.library_empty and not state.tool_results else \
        await asyncio.to_thread(check_claims, text, passage_refs, tool_refs, judge, ctx)
    regenerated = False
    if ctx.mode == "agentic" and answer_mode == "model" and _unsupported(verdicts):
        regenerated = True
        try:
            messages, _ = answer_prompt(state, ctx, passages, state.insufficient_evidence, _feedback(verdicts))
            msg = await call_model(runtime, "regenerate", messages, optional=False)
            new_text, new_cits, new_invalid = check_citations(message_text(msg.content).strip(), passage_refs,
                                                              tool_refs)
            if not problems(new_text, state, evidence, new_cits):
                text, citations, invalid = new_text, new_cits, [*invalid, *[i for i in new_invalid if i not in invalid]]
                verdicts = await asyncio.to_thread(check_claims, text, passage_refs, tool_refs, judge, ctx)
        except Exception as exc:  # noqa: BLE001 - the first draft stands, its claims marked
            note(regenerate_error=error_line(exc))
    if verdicts:
        text = apply_verdicts(text, verdicts, policy=ctx.settings.agent.claim_policy)
        text, citations, _ = check_citations(text, passage_refs, tool_refs)
    extra = [] if direct or (state.library_empty and not state.tool_results) else closing_lines(
        lang, state.tool_results, state.insufficient_evidence, state.missing, state.corrective,
        state.library_empty, text, not_enough=answer_mode != "model")
    if extra:
        text = f"{text}\n\n" + "\n".join(extra)
    text = _INTERNAL_RE.sub("error", text) if answer_mode != "model" else text
    flagged = [i for i in invalid if i in failed]
    claims = [v.as_dict() for v in verdicts or []]
    note(citations=[c["ref"] for c in citations], invalid_citations=invalid, uncitable_failed_calls=flagged,
         fallback=answer_mode == "fallback", fallback_reasons=reasons, answer_mode=answer_mode,
         uncited_ids=[i for i in cited_ids(draft) if i not in passage_refs | tool_refs], regenerated=regenerated,
         claims=[{**{k: c[k] for k in ("text", "citations", "supported", "score", "reasons", "kind") if k in c},
                  **({"judge": c["judge"]} if c.get("judge") else {})} for c in claims],
         claim_checker="agent.claims" if verdicts is not None else "did not run")
    return {"answer": text, "citations": citations, "invalid_citations": invalid,
            "used_fallback": answer_mode == "fallback", "answer_mode": answer_mode, "claims": claims,
            "regenerated": regenerated, "messages": [AIMessage(content=text)],
            **remember(state, [p for _, p in passages])}
