"""Paired bootstrap confidence intervals for the difference of a per-question metric between two
configurations run on the same questions.

For questions i = 1..n with metric values a_i (baseline) and b_i (candidate), the differences d_i = b_i - a_i
are resampled with replacement ``n_boot`` times; the mean of each resample gives the bootstrap distribution of
the mean difference. Reported: the observed mean difference, the percentile interval (95% by default) and a
two-sided bootstrap p-value, ``2 * min(P(mean <= 0), P(mean >= 0))`` capped at 1 (the share of resamples on
the other side of zero; "p-value-ish": small means the sign of the difference is stable under resampling).
A difference is called significant when the interval excludes 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class PairedCI:
    metric: str
    baseline: str
    candidate: str
    n: int
    mean_a: float
    mean_b: float
    diff: float
    lo: float
    hi: float
    p: float

    @property
    def significant(self) -> bool:
        return self.lo > 0 or self.hi < 0

    def as_dict(self) -> dict:
        return {**asdict(self), "significant": self.significant}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], n_boot: int = 10_000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean difference b - a, CI low, CI high, two-sided bootstrap p) for paired values."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired values must be two equally long lists (got {x.shape} and {y.shape})")
    if len(x) == 0:
        raise ValueError("no paired values to compare")
    d = y - x
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, 1000):  # bounded memory for large n
        stop = min(n_boot, start + 1000)
        means[start:stop] = d[rng.integers(0, len(d), size=(stop - start, len(d)))].mean(axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    p = min(1.0, 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0))))
    return float(d.mean()), float(lo), float(hi), p


def compare_items(per_item: dict[str, dict[str, dict[str, float]]], baseline: str, metrics: Sequence[str],
                  n_boot: int = 10_000, seed: int = 0) -> list[PairedCI]:
    """CIs of every configuration against ``baseline`` from ``{config: {question id: {metric: value}}}``,
    paired on the questions both have."""
    if baseline not in per_item:
        raise ValueError(f"unknown baseline configuration {baseline!r} ({', '.join(per_item)})")
    out: list[PairedCI] = []
    base = per_item[baseline]
    for name, items in per_item.items():
        if name == baseline:
            continue
        ids = [i for i in base if i in items]
        for m in metrics:
            pairs = [(base[i][m], items[i][m]) for i in ids if m in base[i] and m in items[i]]
            if not pairs:
                continue
            a, b = zip(*pairs)
            diff, lo, hi, p = paired_bootstrap(a, b, n_boot, seed)
            out.append(PairedCI(m, baseline, name, len(pairs), float(np.mean(a)), float(np.mean(b)), diff, lo, hi, p))
    return out


def ci_table(cis: Sequence[PairedCI]) -> str:
    """A Markdown table of the comparisons."""
    rows = ["| candidate vs baseline | metric | n | baseline | candidate | difference [95% CI] | p | CI excludes 0 |",
            "|---|---|---|---|---|---|---|---|"]
    for c in cis:
        rows.append(f"| {c.candidate} vs {c.baseline} | {c.metric} | {c.n} | {c.mean_a:.3f} | {c.mean_b:.3f} | "
                    f"{c.diff:+.3f} [{c.lo:+.3f}, {c.hi:+.3f}] | {c.p:.3f} | {'yes' if c.significant else 'no'} |")
    return "\n".join(rows)
