"""Answers suite scoring: PubMedQA labels, citation validity, groundedness, insufficient evidence, language.

The label of a free-text answer is read deterministically (:func:`answer_label`):

1. the answer starts with yes / no / maybe (after punctuation and markup), or in Chinese with 是 / 否 / 不是 /
   可能 / 不确定;
2. else it states "the answer is yes|no|maybe" (or "answer: ...");
3. else, when the run reported insufficient evidence, ``maybe``;
4. else ``maybe`` (counted as ``default`` in ``label_sources``, so a model that ignores the instruction shows).

Accuracy and macro-F1 over yes/no/maybe are computed as in the official PubMedQA evaluation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from agent.claims.check import MARK
from agent.events import RunResult
from evals.datasets import LABELS
from evals.grounding import CITATION_RE, Judge, groundedness
from evals.metrics import accuracy, confusion, macro_f1, mean, per_class_f1

_LEAD = re.compile(r"^[\W_]*(yes|no|maybe)\b", re.I)
_LEAD_ZH = [("不确定", "maybe"), ("可能", "maybe"), ("不是", "no"), ("否", "no"), ("是", "yes"), ("对", "yes")]
_STATED = re.compile(r"\b(?:the\s+)?(?:short\s+)?answer\s*(?:is|:)\s*[\W_]*(yes|no|maybe)\b", re.I)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def answer_label(answer: str, insufficient: bool = False) -> tuple[str, str]:
    """(label, how it was read): how is ``leading``, ``stated``, ``insufficient`` or ``default``."""
    text = CITATION_RE.sub(" ", (answer or "").replace(MARK, "")).strip()  # verify's marks are not the answer
    text = re.sub(r"^[#>*\-\s]*(?:\*\*)?(?:answer|short answer|回答|答案)\s*[:：]\s*", "", text, flags=re.I)
    m = _LEAD.match(text)
    if m:
        return m.group(1).lower(), "leading"
    head = re.sub(r"^[\W_]+", "", text)
    for prefix, label in _LEAD_ZH:
        if head.startswith(prefix):
            return label, "leading"
    m = _STATED.search(text)
    if m:
        return m.group(1).lower(), "stated"
    if insufficient:
        return "maybe", "insufficient"
    return "maybe", "default"


def text_language(text: str) -> str:
    """``zh`` when at least 30% of the letters are CJK characters, else ``en``."""
    cjk = len(_CJK.findall(text or ""))
    latin = len(_LATIN.findall(text or ""))
    if cjk + latin == 0:
        return "en"
    return "zh" if cjk / (cjk + latin) >= 0.3 else "en"


def score_answer(item: Any, result: RunResult, judge: Judge | None = None, min_overlap: float = 0.5) -> dict[str, Any]:
    """Per-item scores of one run (JSON-able)."""
    row: dict[str, Any] = {}
    if getattr(item, "label", None):
        label, how = answer_label(result.answer, result.insufficient_evidence)
        row.update(label_gold=item.label, label_pred=label, label_from=how, correct=label == item.label)
    n_cit = len(result.citations)
    n_valid = sum(1 for c in result.citations if c.valid)
    n_invalid = n_cit - n_valid + len([r for r in result.invalid_citations
                                       if r not in {c.ref for c in result.citations}])
    total = n_valid + n_invalid
    row.update(citations=total, valid_citations=n_valid, invalid_citations=n_invalid,
               citation_validity=(n_valid / total) if total else None)
    gold = set(getattr(item, "gold_doc_ids", []) or [])
    if gold:
        cited_docs = {c.doc_id for c in result.citations if c.valid and c.kind == "passage" and c.doc_id}
        row["cites_gold_doc"] = bool(cited_docs & gold)
        row["retrieved_gold_doc"] = bool({p.doc_id for p in result.passages} & gold)
    g = groundedness(result.answer, result.passages, result.tool_results, judge=judge, min_overlap=min_overlap)
    row.update(groundedness=g.score, grounded_sentences=g.supported, scored_sentences=g.sentences,
               uncited_sentences=g.uncited)
    expected_lang = getattr(item, "language", None) or "en"
    answer_lang = text_language(result.answer)
    row.update(insufficient_evidence=result.insufficient_evidence, language_expected=expected_lang,
               language_answer=answer_lang, language_match=answer_lang == expected_lang)
    return row


def aggregate_answers(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Suite metrics over the scored rows (rows of failed runs carry ``error`` and count as errors only)."""
    ok = [r for r in rows if not r.get("error")]
    out: dict[str, Any] = {"items": len(rows), "errors": len(rows) - len(ok)}
    labelled = [r for r in ok if "label_gold" in r]
    if labelled:
        pred = [r["label_pred"] for r in labelled]
        gold = [r["label_gold"] for r in labelled]
        out.update(accuracy=accuracy(pred, gold), macro_f1=macro_f1(pred, gold, LABELS),
                   f1_per_label=per_class_f1(pred, gold, LABELS), confusion=confusion(pred, gold, LABELS),
                   label_sources=dict(Counter(r["label_from"] for r in labelled)))
    total = sum(r["citations"] for r in ok)
    out["citation_validity"] = (sum(r["valid_citations"] for r in ok) / total) if total else None
    out["answers_with_citations"] = mean(r["valid_citations"] > 0 for r in ok)
    out["answers_with_invalid_citations"] = mean(r["invalid_citations"] > 0 for r in ok)
    with_gold = [r for r in ok if "cites_gold_doc" in r]
    out["cites_gold_doc"] = mean(r["cites_gold_doc"] for r in with_gold)
    out["retrieved_gold_doc"] = mean(r["retrieved_gold_doc"] for r in with_gold)
    out["groundedness"] = mean(r["groundedness"] for r in ok)
    sents = sum(r["scored_sentences"] for r in ok)
    out["groundedness_micro"] = (sum(r["grounded_sentences"] for r in ok) / sents) if sents else None
    out["insufficient_evidence_rate"] = mean(r["insufficient_evidence"] for r in ok)
    out["language_match"] = mean(r["language_match"] for r in ok)
    return out
