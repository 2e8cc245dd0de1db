"""Ranking and classification metrics, computed the standard way (used by evals and benchmarks)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def recall_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Share of gold ids found in the top k (1.0 or 0.0 when there is one gold id)."""
    gold = set(gold)
    if not gold:
        raise ValueError("recall_at_k needs at least one gold id")
    return len(gold.intersection(ranked[:k])) / len(gold)


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str]) -> float:
    """1/rank of the first gold id, 0.0 if none is ranked."""
    gold = set(gold)
    for i, doc in enumerate(ranked, start=1):
        if doc in gold:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Iterable[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k."""
    gold = set(gold)
    if not gold:
        raise ValueError("ndcg_at_k needs at least one gold id")
    seen: set[str] = set()
    dcg = 0.0
    for i, doc in enumerate(ranked[:k], start=1):
        if doc in gold and doc not in seen:
            dcg += 1.0 / math.log2(i + 1)
            seen.add(doc)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def dedupe(ids: Iterable[str]) -> list[str]:
    """Keep the first occurrence of each id (chunk hits -> document ranking)."""
    out: list[str] = []
    seen: set[str] = set()
    for x in ids:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def accuracy(pred: Sequence[str], gold: Sequence[str]) -> float:
    if len(pred) != len(gold) or not gold:
        raise ValueError("accuracy needs two equally long, non-empty label lists")
    return sum(p == g for p, g in zip(pred, gold)) / len(gold)


def macro_f1(pred: Sequence[str], gold: Sequence[str], labels: Sequence[str] | None = None) -> float:
    """Unweighted mean of per-class F1 (as sklearn's f1_score(average='macro'))."""
    if len(pred) != len(gold) or not gold:
        raise ValueError("macro_f1 needs two equally long, non-empty label lists")
    labels = list(labels) if labels is not None else sorted(set(gold) | set(pred))
    f1s = []
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(pred, gold))
        fp = sum(p == label and g != label for p, g in zip(pred, gold))
        fn = sum(p != label and g == label for p, g in zip(pred, gold))
        denom = 2 * tp + fp + fn
        f1s.append(0.0 if denom == 0 else 2 * tp / denom)
    return sum(f1s) / len(f1s)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile needs at least one value")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    xs = sorted(float(v) for v in values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(values: Iterable[float | None]) -> dict[str, float] | None:
    """mean, p50, p95 and max of the values that are not None (None when there are none)."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return {"mean": sum(vals) / len(vals), "p50": percentile(vals, 50), "p95": percentile(vals, 95), "max": max(vals)}


def per_class_f1(pred: Sequence[str], gold: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """F1 of each label (0.0 for a label that is neither predicted nor gold)."""
    if len(pred) != len(gold) or not gold:
        raise ValueError("per_class_f1 needs two equally long, non-empty label lists")
    out = {}
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(pred, gold))
        denom = sum(p == label for p in pred) + sum(g == label for g in gold)
        out[label] = 0.0 if denom == 0 else 2 * tp / denom
    return out


def confusion(pred: Sequence[str], gold: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """counts[gold][pred] over the given labels (pairs with other labels are left out)."""
    counts = {g: {p: 0 for p in labels} for g in labels}
    for p, g in zip(pred, gold):
        if g in counts and p in counts[g]:
            counts[g][p] += 1
    return counts
