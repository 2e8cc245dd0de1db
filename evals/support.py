"""`bioagent eval support`: how well the claim support scorer separates supported from unsupported pairs.

A pairs file is JSONL, one ``{"claim": str, "passage": str, "label": 0 or 1}`` a line (1 = the passage supports
the claim); extra fields (``kind``, ``pubid``, ...) are kept and reported per kind. Scores come from the same core
the agent's verify step uses (:class:`agent.claims.SupportScorer`). Prints the AUROC (Mann-Whitney, ties count
half), the number of pairs and the throughput.
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


def evaluate_pairs(pairs: list[Pair], scorer=None) -> dict[str, Any]:
    """AUROC over all pairs and per ``kind`` (when the pairs carry one), scores, and pairs per second."""
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
    kinds = sorted({str(p.extra["kind"]) for p in pairs if "kind" in p.extra})
    if len(kinds) > 1:
        out["by_kind"] = {}
        for k in kinds:
            idx = [i for i, p in enumerate(pairs) if str(p.extra.get("kind")) == k]
            ys = [labels[i] for i in idx]
            if len(set(ys)) == 2:
                out["by_kind"][k] = {"auroc": round(auroc([scores[i] for i in idx], ys), 4), "n": len(idx)}
    out["scores"] = [{"line": p.line, "label": p.label, "score": r.score, "supported": r.supported,
                      "reasons": r.reasons, **({"kind": p.extra["kind"]} if "kind" in p.extra else {})}
                     for p, r in zip(pairs, results)]
    return out
