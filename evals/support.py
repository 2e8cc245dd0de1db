"""`bioagent eval support`: how well the claim support scorer separates supported from unsupported pairs.

A pairs file is JSONL, one ``{"claim": str, "passage": str, "label": 0 or 1}`` a line (1 = the passage supports
the claim); extra fields (``kind``, ``pubid``, ...) are kept and reported per kind. Scores come from the same core
the agent's verify step uses (:class:`agent.claims.SupportScorer`). Prints the AUROC (Mann-Whitney, ties count
half), the number of pairs and the throughput. With a chat model (``--judge-endpoint``) each pair also gets the
verify step's second verdict, the LLM judge (:func:`agent.claims.judge_claims`): its AUROC alone and the scorer's
with the judge's veto, as verify applies it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.datasets import DatasetError, _Fields, _lines


@dataclass
class Pair:
    claim: str
    passage: str
    label: int
    line: int
    extra: dict[str, Any] = field(default_factory=dict)


def load_pairs(path: str | Path) -> list[Pair]:
    """Read and validate a pairs file; every problem names the file, the line and the field."""
    path = Path(path).expanduser()
    out: list[Pair] = []
    for line, obj in _lines(path):
        f = _Fields(path, line, obj)
        claim = f.str("claim")
        passage = f.str("passage")
        if "label" not in obj:
            raise f.fail("label", "missing (expected 1 = supported or 0 = not supported)")
        label = obj["label"]
        if isinstance(label, bool) or label not in (0, 1):
            raise f.fail("label", f"expected 1 (supported) or 0 (not supported), got {label!r}")
        out.append(Pair(claim, passage, int(label), line,
                        {k: v for k, v in obj.items() if k not in ("claim", "passage", "label")}))
    if not out:
        raise DatasetError(path, "the file has no pairs")
    labels = {p.label for p in out}
    if len(labels) < 2:
        raise DatasetError(path, f"all {len(out)} pairs have label {labels.pop()}: AUROC needs both labels (1 and 0)")
    return out


def auroc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative), ties half."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    if not pos or not neg:
        raise ValueError("AUROC needs at least one pair of each label (1 and 0)")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    r_pos = sum(r for r, y in zip(ranks, labels) if y == 1)
    return (r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def _by_kind(pairs: list[Pair], scores: list[float], labels: list[int]) -> dict[str, Any]:
    kinds = sorted({str(p.extra["kind"]) for p in pairs if "kind" in p.extra})
    out = {}
    for k in kinds if len(kinds) > 1 else []:
        idx = [i for i, p in enumerate(pairs) if str(p.extra.get("kind")) == k]
        ys = [labels[i] for i in idx]
        if len(set(ys)) == 2:
            out[k] = {"auroc": round(auroc([scores[i] for i in idx], ys), 4), "n": len(idx)}
    return out


def judge_pairs(pairs: list[Pair], model) -> list[bool | None]:
    """The LLM judge's verdict on each pair: the verify step's second verdict (agent.claims.judge), the passage
    given as the evidence the claim cites. None where the model gave no valid verdict or failed."""
    from types import SimpleNamespace

    from agent.claims.judge import judge_claims

    out: list[bool | None] = []
    for p in pairs:
        j = judge_claims(model, [SimpleNamespace(text=p.claim, citations=["E1"])], {"E1": p.passage})[0]
        out.append(j.get("supported") if j else None)
    return out


def judged(scores: list[float], verdicts: list[bool | None]) -> list[float]:
    """The scores with the judge applied as verify applies it: a "not supported" verdict vetoes (every vetoed pair
    ranks below every other); no verdict leaves the score as it is."""
    return [s - 1.0 if v is False else s for s, v in zip(scores, verdicts)]


def _judge_summary(pairs: list[Pair], scores: list[float], labels: list[int], model) -> dict[str, Any]:
    t0 = time.perf_counter()
    verdicts = judge_pairs(pairs, model)
    elapsed = time.perf_counter() - t0
    alone = [0.5 if v is None else float(v) for v in verdicts]
    both = judged(scores, verdicts)
    return {"judge": {"auroc": round(auroc(alone, labels), 4), "no_verdict": sum(v is None for v in verdicts),
                      "accuracy": round(sum((v is True) == (y == 1) for v, y in zip(verdicts, labels) if v is not None)
                                        / max(1, sum(v is not None for v in verdicts)), 4),
                      "pairs_per_s": round(len(pairs) / elapsed, 2) if elapsed else None,
                      "by_kind": _by_kind(pairs, alone, labels)},
            "with_judge": {"auroc": round(auroc(both, labels), 4), "by_kind": _by_kind(pairs, both, labels)},
            "verdicts": verdicts}


def evaluate_pairs(pairs: list[Pair], scorer=None, judge_model=None) -> dict[str, Any]:
    """AUROC over all pairs and per ``kind`` (when the pairs carry one), scores, and pairs per second; with
    ``judge_model`` (a chat model) also the LLM judge's AUROC alone and the scorer's with the judge's veto."""
    if scorer is None:
        from agent.claims import SupportScorer

        scorer = SupportScorer()
    t0 = time.perf_counter()
    results = scorer.score_many([(p.claim, p.passage) for p in pairs])
    elapsed = time.perf_counter() - t0
    scores = [r.score for r in results]
    labels = [p.label for p in pairs]
    out: dict[str, Any] = {"auroc": round(auroc(scores, labels), 4), "n": len(pairs),
                           "positives": sum(labels), "pairs_per_s": round(len(pairs) / elapsed, 1) if elapsed else None,
                           "threshold": scorer.threshold,
                           "cross_encoder": str(scorer.cross.path) if getattr(scorer, "cross", None) else None}
    if by_kind := _by_kind(pairs, scores, labels):
        out["by_kind"] = by_kind
    verdicts: list = [None] * len(pairs)
    if judge_model is not None:
        j = _judge_summary(pairs, scores, labels, judge_model)
        verdicts = j.pop("verdicts")
        out.update(j)
    out["scores"] = [{"line": p.line, "label": p.label, "score": r.score, "supported": r.supported,
                      "reasons": r.reasons, **({"kind": p.extra["kind"]} if "kind" in p.extra else {}),
                      **({"judge": v} if judge_model is not None else {})}
                     for p, r, v in zip(pairs, results, verdicts)]
    return out


def sample_pairs(pairs: list[Pair], n: int, seed: int = 0) -> list[Pair]:
    """``n`` pairs drawn at random (seeded; file order kept), for a slow judge; both labels must remain."""
    import random

    if n >= len(pairs):
        return pairs
    keep = sorted(random.Random(seed).sample(range(len(pairs)), n))
    out = [pairs[i] for i in keep]
    if len({p.label for p in out}) < 2:
        raise ValueError(f"--limit {n} drew pairs of one label only; AUROC needs both: raise --limit")
    return out
