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

from agent.claims.scorer import CROSS_FEATURES, FEATURES, MODEL_PATH, VETO_FEATURES, pair_features, prefetch
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


def _features_cached(rows: list[dict[str, Any]], memo, cache_file: Path | None) -> np.ndarray:
    """Feature rows, read from ``cache_file`` (.npz) when it holds exactly these pairs and features."""
    key = hashlib.sha256(json.dumps([[r["claim"], r["passage"]] for r in rows] + [list(FEATURES)]).encode()).hexdigest()
    if cache_file and cache_file.is_file():
        z = np.load(cache_file)
        if str(z["key"]) == key:
            return z["X"]
    X = _features(rows, memo) if rows else np.zeros((0, len(FEATURES)))
    if cache_file:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache_file, X=X, key=key)
    return X


def _trees(X: np.ndarray, y: np.ndarray, groups: np.ndarray, features: tuple[str, ...],
           extra: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[dict[str, Any], np.ndarray, dict[str, np.ndarray]]:
    """Trees fitted on all rows, their 5-fold out-of-fold scores (grouped by question), and out-of-fold scores of
    each extra (X, groups) set (a row is scored by the fold model that did not see its question)."""
    from sklearn.model_selection import GroupKFold

    from agent.claims.scorer import combine

    p = np.zeros(len(y))
    pe = {k: np.full(len(g), np.nan) for k, (_, g) in extra.items()}
    for train, held in GroupKFold(5).split(X, y, groups):
        gbc = _gbc().fit(X[train], y[train])
        p[held] = gbc.predict_proba(X[held])[:, 1]
        for k, (Xe, ge) in extra.items():
            m = np.isin(ge, groups[held])
            if m.any():
                pe[k][m] = gbc.predict_proba(Xe[m])[:, 1]
    gbc = _gbc().fit(X, y)
    model = {"features": list(features), "kind": "trees",
             "init": round(float(np.log(y.mean() / (1 - y.mean()))), 6), "learning_rate": gbc.learning_rate,
             "trees": export_trees(gbc), "threshold": round(youden_threshold(p, y), 4)}
    # the exported trees must reproduce scikit-learn's own probabilities
    mine = np.asarray([combine(dict(zip(features, x)), model) for x in X[:50]])
    if not np.allclose(mine, gbc.predict_proba(X[:50])[:, 1], atol=1e-4):
        raise RuntimeError("exported trees disagree with scikit-learn's predictions")
    return model, p, pe


def _as_scored(p: np.ndarray, X: np.ndarray, threshold: float) -> np.ndarray:
    """Tree probabilities as the scorer reports them: a vetoed pair's score is scaled below the threshold."""
    veto = (X[:, [FEATURES.index(f) for f in VETO_FEATURES]] > 0).any(axis=1) if len(X) else np.zeros(0, bool)
    return np.where(veto, p * threshold, p)


def _aurocs(p: np.ndarray, y: np.ndarray, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """AUROC per kind, and per perturbation of each altered kind (``perturbed_by``, ``grounded_by``: each
    perturbation against all true claims of that kind)."""
    kinds = np.asarray([r["kind"] for r in rows])
    pert = np.asarray([str(r.get("perturbation")) for r in rows])
    out: dict[str, Any] = {k: round(auroc(list(p[kinds == k]), list(y[kinds == k])), 4) for k in dict.fromkeys(kinds)}
    for kind in dict.fromkeys(kinds[pert != "None"]):
        m0 = kinds == kind
        by = {}
        for k in dict.fromkeys(pert[m0 & (pert != "None")]):
            m = m0 & np.isin(pert, [k, "None"])
            if len(set(y[m])) == 2:
                by[k] = round(auroc(list(p[m]), list(y[m])), 4)
        out[f"{kind}_by"] = by
    return out


def _probe(rows, held_out, p_rows, p_held, p_unrel) -> dict[str, float]:
    """Held-out negation form (true conclusions vs their negation removed) and claim-only AUROC (perturbed-kind
    claims against an unrelated abstract; 0.5 = the score reads the passage, not the claim's wording)."""
    pos = np.asarray([r["kind"] == "perturbed" and r["label"] == 1 for r in rows])
    out: dict[str, float] = {}
    if len(held_out):
        out["negation_removed"] = round(auroc(list(p_rows[pos]) + list(p_held),
                                              [1] * int(pos.sum()) + [0] * len(p_held)), 4)
    yu = [r["label"] for r in rows if r["kind"] == "perturbed"]
    if len(p_unrel) and len(set(yu)) == 2:
        out["claim_only"] = round(auroc(list(p_unrel), yu), 4)
    return out


def fit(dataset: Path, seed: int = 0, out: Path = MODEL_PATH, cache=None, features_cache: Path | None = None,
        cross_dir: Path | None = None, ce_epochs: int = 1, ce_time_limit_s: float | None = None,
        ce_threads: int = 2, ce_lr: float = 4e-5) -> dict[str, Any]:
    from agent.claims.semantic import default_embedder, memo_for
    from evals.support_cross import negation_removed, unrelated
    from evals.support_pairs import build_pairs

    emb = default_embedder()
    memo = memo_for(emb, cache)
    pairs = build_pairs(dataset, embedder=emb, seed=seed, cache=cache)
    rows = pairs["other"] + pairs["perturbed"]
    held, unrel, grounded = negation_removed(rows), unrelated(rows, seed), pairs["grounded"]
    fc = Path(features_cache) if features_cache else None
    Xr = _features_cached(rows, memo, fc)
    Xh = _features_cached(held, memo, fc.with_suffix(".negrm.npz") if fc else None)
    Xu = _features_cached(unrel, memo, fc.with_suffix(".unrel.npz") if fc else None)
    Xg = _features_cached(grounded, memo, fc.with_suffix(".grounded.npz") if fc else None)
    y = np.asarray([p["label"] for p in rows])
    groups = np.asarray([p["pubid"] for p in rows])
    gh, gu = np.asarray([r["pubid"] for r in held]), np.asarray([r["pubid"] for r in unrel])
    gg = np.asarray([r["pubid"] for r in grounded])
    # the grounded pairs are scored, never trained on: each by the fold model that did not see its question
    model, p, pe = _trees(Xr, y, groups, FEATURES, {"held": (Xh, gh), "unrel": (Xu, gu), "grounded": (Xg, gg)})
    thr = model["threshold"]
    p, pe = _as_scored(p, Xr, thr), {k: _as_scored(pe[k], X_, thr)
                                     for k, X_ in (("held", Xh), ("unrel", Xu), ("grounded", Xg))}
    model["fit"] = {
        "script": "python -m evals.support_fit",
        "dataset": Path(dataset).name,
        "dataset_sha256": hashlib.sha256(Path(dataset).read_bytes()).hexdigest(),
        "seed": seed,
        "embedder": getattr(emb, "model_id", type(emb).__name__),
        "pairs": {k: len(v) for k, v in pairs.items()},
        "method": "sklearn GradientBoostingClassifier(150 trees, depth 3, lr 0.05, subsample 0.8) on all dev "
                  "pairs; threshold = max Youden J on 5-fold out-of-fold dev scores (grouped by question); the "
                  "cross-validated AUROCs are of those scores with the scorer's veto applied; the grounded pairs "
                  "(sentence level, evals.support_pairs) are scored out of fold and never trained on",
        "dev_auroc_cv": {**_aurocs(p, y, rows), **_aurocs(pe["grounded"], np.asarray([r["label"] for r in grounded]),
                                                         grounded)},
        "dev_probe_cv": _probe(rows, held, p, pe["held"], pe["unrel"]),
        "date": time.strftime("%Y-%m-%d"),
    }
    if cross_dir:
        from evals.support_cross import out_of_fold

        cc = fc.with_suffix(".ce.json") if fc else None  # out-of-fold scores, reused while the inputs are unchanged
        key = [hashlib.sha256(Xr.tobytes()).hexdigest(), seed, ce_epochs, ce_time_limit_s, ce_lr, str(cross_dir)]
        built = (Path(cross_dir) / "bioagent_support_ce.json").is_file()
        if cc and cc.is_file() and built and json.loads(cc.read_text())["key"] == key:
            got = json.loads(cc.read_text())
            ce, ce_x, metas = np.asarray(got["ce"]), {k: np.asarray(v) for k, v in got["extra"].items()}, got["metas"]
        else:
            ce, ce_x, metas = out_of_fold(rows, {"held": held, "unrel": unrel}, memo, Path(cross_dir),
                                          epochs=ce_epochs, seed=seed, threads=ce_threads, time_limit_s=ce_time_limit_s,
                                          lr=ce_lr)
            if cc:
                cc.write_text(json.dumps({"key": key, "ce": ce.tolist(), "metas": metas,
                                          "extra": {k: v.tolist() for k, v in ce_x.items()}}))
        cross, pc, pce = _trees(np.c_[Xr, ce], y, groups, CROSS_FEATURES,
                                {"held": (np.c_[Xh, ce_x["held"]], gh), "unrel": (np.c_[Xu, ce_x["unrel"]], gu)})
        thr = cross["threshold"]
        pc, pce = _as_scored(pc, Xr, thr), {k: _as_scored(v, Xh if k == "held" else Xu, thr) for k, v in pce.items()}
        cross["fit"] = {
            "cross_encoder": metas[0], "other_half": {k: metas[1][k] for k in ("examples", "steps", "train_s")},
            "method": "the trees above plus feature ce: P(supported) from a cross-encoder fine-tuned on the "
                      "perturbed pairs of the other half of the dev questions (out of fold); same trees and "
                      "threshold rule",
            "dev_auroc_cv": _aurocs(pc, y, rows),
            "dev_probe_cv": _probe(rows, held, pc, pce["held"], pce["unrel"]),
            "ce_alone_oof": {**_aurocs(ce, y, rows), **_probe(rows, held, ce, ce_x["held"], ce_x["unrel"])},
        }
        model["cross"] = cross
    out.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    return model


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Fit the claim support scorer on the PubMedQA dev half.")
    ap.add_argument("--dataset", type=Path, default=Path("../shared/data/pubmedqa/pqal_dev.jsonl"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--cache", type=Path, default=None, help="SQLite embedding cache (reused between runs)")
    ap.add_argument("--features-cache", type=Path, default=None, help="NPZ of the dev pairs' features (reused "
                    "while the pairs and features are unchanged)")
    ap.add_argument("--cross-encoder", type=Path, default=None, metavar="DIR", help="also fine-tune the "
                    "cross-encoder into DIR (weights are not shipped; the scorer reads BIOAGENT_AGENT__"
                    "SUPPORT_CROSS_ENCODER or data_dir/models/support-ce) and fit trees that use it")
    ap.add_argument("--ce-epochs", type=int, default=1)
    ap.add_argument("--ce-time-limit", type=float, default=None, help="seconds of training per half (bounds CPU runs)")
    ap.add_argument("--ce-lr", type=float, default=4e-5, help="cross-encoder learning rate (AdamW)")
    ap.add_argument("--ce-threads", type=int, default=2, help="torch threads while training")
    a = ap.parse_args(argv)
    if "test" in a.dataset.name:
        raise SystemExit("refusing to fit on a test file: fit on the dev half only")
    cache = None
    if a.cache:
        from agent.kb.embeddings import EmbeddingCache

        cache = EmbeddingCache(a.cache)
    model = fit(a.dataset, a.seed, a.out, cache, a.features_cache, a.cross_encoder, a.ce_epochs, a.ce_time_limit,
                a.ce_threads, a.ce_lr)
    show = {k: v for k, v in model.items() if k != "trees"}
    if "cross" in show:
        show["cross"] = {k: v for k, v in show["cross"].items() if k != "trees"}
    print(json.dumps(show, indent=2))


if __name__ == "__main__":
    main()
