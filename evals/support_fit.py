"""Fit the claim support scorer's combination on the PubMedQA dev half and write ``agent/claims/support_model.json``.

    python -m evals.support_fit --dataset ../shared/data/pubmedqa/pqal_dev.jsonl

Builds both kinds of pairs (:mod:`evals.support_pairs`, seeded), computes the features of
:mod:`agent.claims.scorer` with the project's MiniLM, fits a logistic regression (scikit-learn, L2, C=1) on all
pairs, and picks the decision threshold that maximises Youden's J (sensitivity + specificity - 1) on the same
dev pairs. The JSON records the coefficients, the threshold, the data file's SHA-256, the pair counts and the dev
AUROC per kind. Only ever run it on the dev half: the test half is for the one final report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from agent.claims.scorer import FEATURES, MODEL_PATH, pair_features, prefetch
from evals.support import auroc


def _features(pairs: list[dict[str, Any]], memo) -> np.ndarray:
    prefetch(memo, [(p["claim"], p["passage"]) for p in pairs])
    rows = []
    for p in pairs:
        f, _ = pair_features(memo, p["claim"], p["passage"])
        rows.append([f[k] for k in FEATURES])
    return np.asarray(rows, dtype=np.float64)


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    best, thr = -1.0, 0.5
    for t in np.unique(scores):
        pred = scores >= t
        tpr = (pred & (labels == 1)).sum() / max(1, (labels == 1).sum())
        fpr = (pred & (labels == 0)).sum() / max(1, (labels == 0).sum())
        if tpr - fpr > best:
            best, thr = tpr - fpr, float(t)
    return thr


def fit(dataset: Path, seed: int = 0, out: Path = MODEL_PATH, cache=None) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from agent.claims.semantic import default_embedder, memo_for
    from evals.support_pairs import build_pairs

    emb = default_embedder()
    memo = memo_for(emb, cache)
    pairs = build_pairs(dataset, embedder=emb, seed=seed, cache=cache)
    rows = pairs["other"] + pairs["perturbed"]
    X = _features(rows, memo)
    y = np.asarray([p["label"] for p in rows])
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
    p = lr.predict_proba(X)[:, 1]
    kinds = np.asarray([r["kind"] for r in rows])
    model = {
        "features": list(FEATURES),
        "coef": [round(float(c), 5) for c in lr.coef_[0]],
        "intercept": round(float(lr.intercept_[0]), 5),
        "threshold": round(youden_threshold(p, y), 4),
        "fit": {
            "script": "python -m evals.support_fit",
            "dataset": Path(dataset).name,
            "dataset_sha256": hashlib.sha256(Path(dataset).read_bytes()).hexdigest(),
            "seed": seed,
            "embedder": getattr(emb, "model_id", type(emb).__name__),
            "pairs": {k: len(v) for k, v in pairs.items()},
            "method": "sklearn LogisticRegression(C=1.0) on all dev pairs; threshold = max Youden J on dev",
            "dev_auroc": {k: round(auroc(list(p[kinds == k]), list(y[kinds == k])), 4) for k in pairs},
            "date": time.strftime("%Y-%m-%d"),
        },
    }
    out.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    return model


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Fit the claim support scorer on the PubMedQA dev half.")
    ap.add_argument("--dataset", type=Path, default=Path("../shared/data/pubmedqa/pqal_dev.jsonl"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--cache", type=Path, default=None, help="SQLite embedding cache (reused between runs)")
    a = ap.parse_args(argv)
    if "test" in a.dataset.name:
        raise SystemExit("refusing to fit on a test file: fit on the dev half only")
    cache = None
    if a.cache:
        from agent.kb.embeddings import EmbeddingCache

        cache = EmbeddingCache(a.cache)
    model = fit(a.dataset, a.seed, a.out, cache)
    print(json.dumps(model, indent=2))


if __name__ == "__main__":
    main()
