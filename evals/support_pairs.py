"""Claim/passage pairs for the support scorer, built from PubMedQA (PQA-L) conclusions and abstracts.

Two kinds (``kind`` field):

- ``other``: each conclusion (``long_answer``) against its own abstract (``contexts`` joined; label 1) and against
  the most similar other abstract of the same file by the embedder (label 0).
- ``perturbed``: each conclusion against its own abstract (label 1), and altered copies of it against the same
  abstract (label 0): one number changed (conclusions with a number), one direction word flipped (conclusions
  with a direction word) and a negation inserted after the first auxiliary verb (``is`` -> ``is not``).
  ``perturbation`` says which; the random choices are seeded.

    python -m evals.support_pairs --dataset ../shared/data/pubmedqa/pqal_dev.jsonl --out runs/support/dev
    # writes other.jsonl and perturbed.jsonl (and all.jsonl) for `bioagent eval support --pairs ...`
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np

from agent.claims.features import _NUM_RE

# word -> its opposite (lower case; the case of the original is kept)
FLIPS = {
    "increased": "decreased", "decreased": "increased", "increase": "decrease", "decrease": "increase",
    "increases": "decreases", "decreases": "increases", "increasing": "decreasing", "decreasing": "increasing",
    "higher": "lower", "lower": "higher", "more": "less", "less": "more", "greater": "smaller",
    "improved": "worsened", "improves": "worsens", "improve": "worsen", "better": "worse", "worse": "better",
    "reduced": "increased", "reduces": "increases", "reduce": "increase", "reduction": "increase",
    "upregulated": "downregulated", "downregulated": "upregulated", "up-regulated": "down-regulated",
    "down-regulated": "up-regulated", "positive": "negative", "negative": "positive", "positively": "negatively",
    "negatively": "positively", "longer": "shorter", "shorter": "longer", "fewer": "more", "larger": "smaller",
    "smaller": "larger", "elevated": "reduced", "superior": "inferior", "inferior": "superior",
    "beneficial": "harmful", "effective": "ineffective", "ineffective": "effective",
}
_AUX_RE = re.compile(r"\b(is|are|was|were|can|could|may|might|should|does|do|did|has|have|will|would)\b(?! not\b)")
_FLIP_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, FLIPS), key=len, reverse=True)) + r")\b", re.I)


def _keep_case(orig: str, new: str) -> str:
    return new[0].upper() + new[1:] if orig[0].isupper() else new


def perturb_number(text: str, rng: random.Random) -> str | None:
    """The text with one number (chosen at random) changed by 10-50 % (at least 1 unit of its last digit)."""
    nums = list(_NUM_RE.finditer(text))
    if not nums:
        return None
    m = rng.choice(nums)
    raw = m.group(0).replace(",", "")
    dec = len(raw.split(".", 1)[1]) if "." in raw else 0
    value = float(raw)
    step = 10 ** (-dec)
    delta = max(step, round(abs(value) * rng.uniform(0.1, 0.5), dec))
    new = value + delta if (rng.random() < 0.5 or value - delta < 0) else value - delta
    written = f"{new:.{dec}f}"
    if written == raw:
        return None
    return text[:m.start()] + written + text[m.end():]


def flip_direction(text: str, rng: random.Random) -> str | None:
    words = list(_FLIP_RE.finditer(text))
    if not words:
        return None
    m = rng.choice(words)
    return text[:m.start()] + _keep_case(m.group(0), FLIPS[m.group(0).lower()]) + text[m.end():]


def insert_negation(text: str) -> str | None:
    m = _AUX_RE.search(text)
    if not m or re.search(r"\bnot\b", text[m.end():m.end() + 6]):
        return None
    return text[:m.end()] + " not" + text[m.end():]


def build_pairs(dataset_path: str | Path, embedder=None, seed: int = 0, cache=None) -> dict[str, list[dict[str, Any]]]:
    """{"other": [...], "perturbed": [...]} pairs from a PubMedQA file (see the module docstring)."""
    from agent.claims.semantic import default_embedder
    from evals.datasets import load_pubmedqa

    ds = load_pubmedqa(dataset_path)
    items = [(it, doc) for it, doc in zip(ds.items, ds.documents) if it.answer]
    rng = random.Random(seed)
    emb = embedder or default_embedder()
    claims = [it.answer for it, _ in items]
    abstracts = [doc.text for _, doc in items]
    cv = np.asarray(emb.encode_documents(claims, cache=cache), dtype=np.float32)
    av = np.asarray(emb.encode_documents(abstracts, cache=cache), dtype=np.float32)
    sims = cv @ av.T
    np.fill_diagonal(sims, -np.inf)
    other, perturbed = [], []
    for i, (it, _) in enumerate(items):
        base = {"pubid": it.id}
        other.append({"claim": claims[i], "passage": abstracts[i], "label": 1, "kind": "other", **base})
        j = int(np.argmax(sims[i]))
        other.append({"claim": claims[i], "passage": abstracts[j], "label": 0, "kind": "other",
                      "other_pubid": items[j][0].id, **base})
        variants = [("number", perturb_number(claims[i], rng)), ("direction", flip_direction(claims[i], rng)),
                    ("negation", insert_negation(claims[i]))]
        variants = [(k, v) for k, v in variants if v and v != claims[i]]
        if variants:
            perturbed.append({"claim": claims[i], "passage": abstracts[i], "label": 1, "kind": "perturbed",
                              "perturbation": None, **base})
            for k, v in variants:
                perturbed.append({"claim": v, "passage": abstracts[i], "label": 0, "kind": "perturbed",
                                  "perturbation": k, **base})
    return {"other": other, "perturbed": perturbed}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, type=Path, help="PubMedQA JSONL (pqal_dev.jsonl)")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    pairs = build_pairs(a.dataset, seed=a.seed)
    for kind, rows in pairs.items():
        write_jsonl(a.out / f"{kind}.jsonl", rows)
    write_jsonl(a.out / "all.jsonl", pairs["other"] + pairs["perturbed"])
    print(json.dumps({k: len(v) for k, v in pairs.items()}))


if __name__ == "__main__":
    main()
