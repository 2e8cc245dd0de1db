"""Fit the claim support scorer's combination on the PubMedQA dev half and write ``agent/claims/support_model.json``.

    python -m evals.support_fit --dataset ../shared/data/pubmedqa/pqal_dev.jsonl

Builds both kinds of pairs (:mod:`evals.support_pairs`, seeded), computes the features of
:mod:`agent.claims.scorer` with the project's MiniLM and fits gradient-boosted trees (scikit-learn
``GradientBoostingClassifier``: 150 trees of depth 3; the checks interact — a missing number matters more when
the claim otherwise matches its passage well — which a linear model cannot express). The trees are written as
plain JSON (no pickle) and evaluated by :func:`agent.claims.scorer.combine`. The decision threshold maximises
Youden's J (sensitivity + specificity - 1) on 5-fold cross-validated dev predictions (folds grouped by question),
and the dev AUROCs recorded are those cross-validated ones, not the in-sample fit. The JSON also records the data
file's SHA-256 and the pair counts. Only ever run it on the dev half: the test half is for the one final report.
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


def export_trees(gbc) -> list[dict[str, list]]:
    """The regression trees of a fitted binary ``GradientBoostingClassifier`` as JSON-able arrays."""
    out = []
    for est in gbc.estimators_[:, 0]:
        t = est.tree_
        out.append({"feature": [int(x) for x in t.feature], "threshold": [round(float(x), 6) for x in t.threshold],
                    "left": [int(x) for x in t.children_left], "right": [int(x) for x in t.children_right],
                    "value": [round(float(x), 6) for x in t.value[:, 0, 0]]})
    return out


def _gbc():
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8,
                                      random_state=0)


def fit(dataset: Path, seed: int = 0, out: Path = MODEL_PATH, cache=None) -> dict[str, Any]:
    from sklearn.model_selection import GroupKFold

    from agent.claims.scorer import combine
    from agent.claims.semantic import default_embedder, memo_for
    from evals.support_pairs import build_pairs

    emb = default_embedder()
    memo = memo_for(emb, cache)
    pairs = build_pairs(dataset, embedder=emb, seed=seed, cache=cache)
    rows = pairs["other"] + pairs["perturbed"]
    X = _features(rows, memo)
    y = np.asarray([p["label"] for p in rows])
    groups = np.asarray([p["pubid"] for p in rows])
    p = np.zeros(len(y))
    for train, held in GroupKFold(5).split(X, y, groups):  # out-of-fold scores: threshold and reported AUROCs
        p[held] = _gbc().fit(X[train], y[train]).predict_proba(X[held])[:, 1]
    gbc = _gbc().fit(X, y)
    kinds = np.asarray([r["kind"] for r in rows])
    pert = np.asarray([str(r.get("perturbation")) for r in rows])
    model = {
        "features": list(FEATURES),
        "kind": "trees",
        "init": round(float(np.log(y.mean() / (1 - y.mean()))), 6),
        "learning_rate": gbc.learning_rate,
        "trees": export_trees(gbc),
        "threshold": round(youden_threshold(p, y), 4),
        "fit": {
            "script": "python -m evals.support_fit",
            "dataset": Path(dataset).name,
            "dataset_sha256": hashlib.sha256(Path(dataset).read_bytes()).hexdigest(),
            "seed": seed,
            "embedder": getattr(emb, "model_id", type(emb).__name__),
            "pairs": {k: len(v) for k, v in pairs.items()},
            "method": "sklearn GradientBoostingClassifier(150 trees, depth 3, lr 0.05, subsample 0.8) on all dev "
                      "pairs; threshold = max Youden J on 5-fold out-of-fold dev scores (grouped by question)",
            "dev_auroc_cv": {k: round(auroc(list(p[kinds == k]), list(y[kinds == k])), 4) for k in pairs},
            "dev_auroc_cv_perturbed": {k: round(auroc(list(p[m]), list(y[m])), 4)
                                       for k in ("number", "direction", "negation")
                                       if (m := (kinds == "perturbed") & np.isin(pert, [k, "None"])).any()},
            "date": time.strftime("%Y-%m-%d"),
        },
    }
    # the exported trees must reproduce scikit-learn's own probabilities
    mine = np.asarray([combine(dict(zip(FEATURES, x)), model) for x in X[:50]])
    if not np.allclose(mine, gbc.predict_proba(X[:50])[:, 1], atol=1e-4):
        raise RuntimeError("exported trees disagree with scikit-learn's predictions")
    out.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
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
    print(json.dumps({k: v for k, v in model.items() if k != "trees"}, indent=2))


if __name__ == "__main__":
    main()
