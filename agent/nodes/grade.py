"""``grade``: which retrieved passages are relevant, and whether they suffice.

evidence: a deterministic score (lexical overlap of key terms, or the dense cosine) against a threshold.
guarded: the model's grades, except that a strong lexical match is never thrown away. agentic: the model's
grades and its sufficiency verdict decide; the threshold only replaces an unusable reply. After grading,
agentic mode turns to PubMed / Europe PMC (``corrective``) when the library stays insufficient.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from agent import prompts
from agent.context import Context
from agent.model_calls import call_model, error_line, note, parse_structured, traced
from agent.nodes.common import contextualise, previous_question
from agent.nodes.corrective import can_search_public
from agent.nodes.schemas import PassageGrades
from agent.query_heuristics import key_terms, question_terms
from agent.sentences import lexical_overlap
from agent.state import State


def lexical_score(question: str, text: str) -> float:
    """Share of the question's key terms found in the passage (5-letter prefixes, Chinese glossed)."""
    return lexical_overlap(key_terms(question), text)


def passage_relevance(question: str, hit: dict[str, Any]) -> float:
    """Deterministic relevance in [0, 1]: the best of lexical overlap and a dense cosine score if present."""
    scores = hit.get("scores") or {}
    dense = 0.0
    for key in ("dense", "multilingual"):  # cosine similarities of the knowledge base's dense routes
        v = scores.get(key)
        if isinstance(v, (int, float)) and 0.0 <= v <= 1.0:
            dense = max(dense, float(v))
    return max(lexical_score(question, hit.get("title", "") + " " + hit.get("text", "")), dense)



@traced("grade")
async def grade(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    grades = dict(state.grades)
    question = contextualise(state.search_text or state.question_text, previous_question(state))
    ungraded = [p for p in state.passages if p["chunk_id"] not in grades][: max(ctx.max_context_passages, ctx.k)]
    det = {p["chunk_id"]: passage_relevance(question, p) for p in ungraded}
    strong = max(0.75, ctx.grade_min_score + 0.25)
    llm_status, missing, llm_sufficient = "no new passages", "", None
    if ungraded and ctx.mode == "evidence":
        llm_status = "skipped (evidence mode): score threshold"
        for p in ungraded:
            grades[p["chunk_id"]] = det[p["chunk_id"]] >= ctx.grade_min_score
    elif ungraded:
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
            llm_status = f"model unavailable ({error_line(exc)}); score threshold used"
        else:
            llm_status = "ok" if parsed is not None else "invalid structured output; score threshold used"
        if parsed is not None and all(r in refs for r in parsed.relevant):
            chosen = {refs[r]["chunk_id"] for r in parsed.relevant}
            for p in ungraded:
                # guarded: the model's grades, except that a strong lexical match is never thrown away
                grades[p["chunk_id"]] = p["chunk_id"] in chosen or (
                    ctx.mode != "agentic" and det[p["chunk_id"]] >= strong)
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
        if ctx.mode == "agentic" and llm_sufficient is not None:
            sufficient = n_relevant > 0 and llm_sufficient
    if not sufficient and not missing:
        found = " ".join(p.get("text", "") for p in state.passages if grades.get(p["chunk_id"])).lower()
        absent = [t for t in question_terms(question) if t.lower()[:5] not in found]
        missing = ("passages about " + ", ".join(dict.fromkeys(absent[:6]))) if absent else "relevant passages"
    note(model=llm_status, grades=[{"chunk_id": p["chunk_id"], "title": p.get("title", ""),
                                    "relevant": grades[p["chunk_id"]], "match": round(det[p["chunk_id"]], 3)}
                                   for p in ungraded],
         relevant=n_relevant, sufficient=sufficient, missing=missing if not sufficient else "")
    return {"grades": grades, "sufficient": sufficient, "missing": "" if sufficient else missing}


def after_grade(state: State, runtime: Runtime[Context]
                ) -> Literal["rewrite", "corrective", "plan_tools", "answer"]:
    ctx = runtime.context
    if not state.sufficient and state.rounds - 1 < ctx.max_rounds:
        return "rewrite"
    if (not state.sufficient and ctx.mode == "agentic" and not state.corrective
            and can_search_public(state, ctx)):
        return "corrective"
    if state.route in ("tools", "both"):
        return "plan_tools"
    return "answer"

