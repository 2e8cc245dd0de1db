"""Fit-time cross-encoder for the claim support scorer (``python -m evals.support_fit --cross-encoder DIR``).

Dev pairs only. The dev questions are split in two halves (grouped by question); a cross-encoder
(:mod:`agent.claims.cross`) is fine-tuned on the *perturbed* pairs of one half (true conclusions and their copies
with one number, direction word or negation changed, each read with its passage window) and scores every pair of
the other half, and the other way round. These out-of-fold scores are the ``ce`` feature the second set of
trees is fitted on, so the trees learn how far to trust a cross-encoder on text it has not seen. The model of
half 0 is the one written to ``DIR`` (it scores unseen text at run time exactly as it did during the fit).

Two checks of what the cross-encoder learned (both out of fold, dev only):

- ``claim_only``: the AUROC of true against perturbed claims, each read against an *unrelated* abstract. A model
  that reads the passage cannot tell them apart there (0.5); a higher value is what it learned from the claim's
  wording alone, i.e. from how the perturbations were made (an inserted "not" after the first auxiliary verb).
- ``negation_removed``: a negation form never trained on: true conclusions that negate against their copy with
  the negation removed (:func:`agent.claims.contrast.variants`), label 0.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from agent.claims import contrast as K
from agent.claims import cross as X


def negation_removed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Held-out negation form: each true conclusion (perturbed kind, label 1) with a removable negation,
    against its own passage with the negation removed (label 0)."""
    out = []
    for r in rows:
        if r["kind"] == "perturbed" and r["label"] == 1:
            for kind, text in K.variants(r["claim"]):
                if kind == "negation":
                    out.append({**r, "claim": text, "label": 0, "perturbation": "negation_removed"})
                    break
    return out


def unrelated(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The perturbed-kind pairs with each passage replaced by the abstract of another, random question."""
    passages = {r["pubid"]: r["passage"] for r in rows if r["label"] == 1}
    ids = sorted(passages)
    rng = random.Random(seed)
    out = []
    for r in rows:
        if r["kind"] == "perturbed":
            other = rng.choice(ids)
            while other == r["pubid"] and len(ids) > 1:
                other = rng.choice(ids)
            out.append({**r, "passage": passages[other]})
    return out


def out_of_fold(rows: list[dict[str, Any]], extra: dict[str, list[dict[str, Any]]], memo, out_dir: Path, *,
                epochs: int = 1, seed: int = 0, threads: int = 2, time_limit_s: float | None = None,
                lr: float = 4e-5, log=print) -> tuple[np.ndarray, dict[str, np.ndarray], list[dict[str, Any]]]:
    """Cross-encoder scores of ``rows`` and of each ``extra`` list from the half-model not trained on their
    question, the two models' training metadata; the half-0 model is left in ``out_dir``."""
    from sklearn.model_selection import GroupKFold

    groups = np.asarray([r["pubid"] for r in rows])
    ce = np.full(len(rows), np.nan)
    ce_extra = {k: np.full(len(v), np.nan) for k, v in extra.items()}
    metas = []
    tmp = Path(tempfile.mkdtemp(prefix="support-ce-"))
    try:
        for half, (train, held) in enumerate(GroupKFold(2).split(np.zeros(len(rows)), groups=groups)):
            examples = [(rows[i]["claim"], X.window(memo, rows[i]["claim"], rows[i]["passage"]), rows[i]["label"])
                        for i in train if rows[i]["kind"] == "perturbed"]
            target = out_dir if half == 0 else tmp / "half1"
            if target.exists():
                shutil.rmtree(target)
            meta = X.train(examples, target, epochs=epochs, seed=seed, threads=threads, time_limit_s=time_limit_s,
                           lr=lr, meta={"half": half, "trained_on": "perturbed dev pairs of one half of the questions"})
            metas.append(meta)
            log(f"cross-encoder half {half}: {meta['examples']} examples, {meta['steps']} steps, "
                f"{meta['train_s']} s, loss {meta['last_loss']}")
            model = X.CrossVerdict(target)
            held_ids = set(groups[held])
            ce[held] = model.scores(memo, [(rows[i]["claim"], rows[i]["passage"]) for i in held])
            for k, v in extra.items():
                idx = [j for j, r in enumerate(v) if r["pubid"] in held_ids]
                if idx:
                    ce_extra[k][idx] = model.scores(memo, [(v[j]["claim"], v[j]["passage"]) for j in idx])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ce, ce_extra, metas
