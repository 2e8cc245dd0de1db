"""Claim/passage pairs for the support scorer, built from PubMedQA (PQA-L) conclusions and abstracts.

Two kinds (``kind`` field):

- ``other``: each conclusion (``long_answer``) against its own abstract (``contexts`` joined; label 1) and against
  the most similar other abstract of the same file by the embedder (label 0).
- ``perturbed``: each conclusion against its own abstract (label 1), and altered copies of it against the same
  abstract (label 0): one number changed (conclusions with a number), one direction word flipped (conclusions
  with a direction word) and a negation inserted after the first auxiliary verb (``is`` -> ``is not``).
  ``perturbation`` says which; the random choices are seeded.
- ``grounded``: one *sentence* of a conclusion (the verify step scores sentences) against its own abstract
  (label 1), and copies of that sentence with the same three changes (label 0), made only where the abstract
  states what is changed, so that a reader of the abstract alone can tell the altered claim from the true one: a number the abstract gives (changed by
  10-50 % to a value it does not give), a direction word the abstract uses (the same word), a negation inserted
  before a word the abstract uses without one, and a negation *removed* before a word the abstract negates (the
  negation goes both ways, so "contains not" is no clue). Of the ``perturbed`` changes, 26 % of the numbers and
  64 % of the direction words of the dev half are not in the abstract at all: no reader of the passage can tell
  those copies from the true conclusion, which caps any scorer's AUROC on that kind well below 1.

    python -m evals.support_pairs --dataset ../shared/data/pubmedqa/pqal_dev.jsonl --out runs/support/dev
    # writes other.jsonl, perturbed.jsonl and grounded.jsonl (and all.jsonl) for `bioagent eval support --pairs ...`
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np

from agent.claims.contrast import _NEG_DROP_RE
from agent.claims.features import _NEG_EN as _NEG_WORD_RE, _NUM_RE, _same, _words, negated_word, numbers

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


def _states_number(raw: str, passage: str) -> bool:
    value = float(raw.replace(",", ""))
    return any(_same(value, n.value, raw.replace(",", "")) for n in numbers(passage))


def grounded_number(text: str, passage: str, rng: random.Random) -> str | None:
    """One number the passage gives, changed by 10-50 % to a value the passage does not give."""
    nums = [m for m in _NUM_RE.finditer(text) if _states_number(m.group(0), passage)]
    if not nums:
        return None
    m = rng.choice(nums)
    for _ in range(5):
        new = perturb_number(m.group(0), rng)
        if new and not _states_number(new, passage):
            return text[:m.start()] + new + text[m.end():]
    return None


def grounded_direction(text: str, passage: str, rng: random.Random) -> str | None:
    """One direction word that the passage also uses (the same word), flipped."""
    words = [m for m in _FLIP_RE.finditer(text)
             if re.search(rf"\b{re.escape(m.group(0))}\b", passage, re.I)]
    if not words:
        return None
    m = rng.choice(words)
    return text[:m.start()] + _keep_case(m.group(0), FLIPS[m.group(0).lower()]) + text[m.end():]


def _negated_in(passage: str, target: str) -> list[bool]:
    """For each occurrence of ``target`` (by its first 6 letters) in the passage: is a negation within the 4 words
    before it?"""
    pw = _words(passage)
    return [any(_NEG_WORD_RE.fullmatch(x) for x in pw[max(0, j - 4):j]) for j, w in enumerate(pw)
            if w[:6] == target[:6]]


def grounded_negation(text: str, passage: str) -> tuple[str, str] | None:
    """("negation_removed", text) when the claim negates a word the passage negates too, with the negation taken
    out; else ("negation", text) with "not" inserted after the first auxiliary verb when the word it then denies
    stands in the passage without a negation; else None."""
    for m in _NEG_DROP_RE.finditer(text):
        target = negated_word(_words(text[m.end():]))
        occ = _negated_in(passage, target) if target else []
        if occ and all(occ):
            rep = "can" if m.group(0).lower() == "cannot" else ""
            return "negation_removed", text[:m.start()] + rep + text[m.end():]
    m = _AUX_RE.search(text)
    if m and not _NEG_WORD_RE.search(" ".join(_words(text[m.end():])[:3])):
        target = negated_word(_words(text[m.end():]))
        occ = _negated_in(passage, target) if target else []
        if occ and not any(occ):
            return "negation", text[:m.end()] + " not" + text[m.end():]
    return None


def build_pairs(dataset_path: str | Path, embedder=None, seed: int = 0, cache=None) -> dict[str, list[dict[str, Any]]]:
    """{"other": [...], "perturbed": [...], "grounded": [...]} pairs from a PubMedQA file (see the module docstring)."""
    from agent.claims.semantic import default_embedder, memo_for, passage_sentences
    from evals.datasets import load_pubmedqa

    ds = load_pubmedqa(dataset_path)
    items = [(it, doc) for it, doc in zip(ds.items, ds.documents) if it.answer]
    rng = random.Random(seed)
    grng = random.Random(f"{seed}-grounded")  # its own stream: the perturbed kind stays as it was
    memo = memo_for(embedder or default_embedder(), cache)
    claims = [it.answer for it, _ in items]
    abstracts = [doc.text for _, doc in items]
    # an abstract's vector = the normalised mean of its sentence vectors (the units the scorer encodes anyway)
    sents = [passage_sentences(a) or [a] for a in abstracts]
    memo.encode([s for ss in sents for s in ss] + claims)
    av = np.stack([memo.encode(ss).mean(axis=0) for ss in sents])
    av /= np.linalg.norm(av, axis=1, keepdims=True)
    cv = memo.encode(claims)
    sims = cv @ av.T
    np.fill_diagonal(sims, -np.inf)
    other, perturbed, grounded = [], [], []
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
        for sent in passage_sentences(claims[i]):  # a claim is a sentence, as the verify step scores them
            g = [("number", grounded_number(sent, abstracts[i], grng)),
                 ("direction", grounded_direction(sent, abstracts[i], grng)), grounded_negation(sent, abstracts[i])]
            g = [(k, v) for k, v in (x for x in g if x) if v and v != sent]
            if g:
                grounded.append({"claim": sent, "passage": abstracts[i], "label": 1, "kind": "grounded",
                                 "perturbation": None, **base})
                grounded += [{"claim": v, "passage": abstracts[i], "label": 0, "kind": "grounded",
                              "perturbation": k, **base} for k, v in g]
    return {"other": other, "perturbed": perturbed, "grounded": grounded}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, type=Path, help="PubMedQA JSONL (pqal_dev.jsonl)")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="keep the pairs of the first N questions only "
                    "(other abstracts are still chosen from the whole file)")
    ap.add_argument("--cache", type=Path, default=None, help="SQLite embedding cache (reused between runs)")
    a = ap.parse_args(argv)
    cache = None
    if a.cache:
        from agent.kb.embeddings import EmbeddingCache

        cache = EmbeddingCache(a.cache)
    pairs = build_pairs(a.dataset, seed=a.seed, cache=cache)
    if a.limit:
        keep: list[str] = list(dict.fromkeys(r["pubid"] for r in pairs["other"]))[:a.limit]
        pairs = {k: [r for r in v if r["pubid"] in keep] for k, v in pairs.items()}
    for kind, rows in pairs.items():
        write_jsonl(a.out / f"{kind}.jsonl", rows)
    write_jsonl(a.out / "all.jsonl", pairs["other"] + pairs["perturbed"] + pairs["grounded"])
    print(json.dumps({k: len(v) for k, v in pairs.items()}))


if __name__ == "__main__":
    main()
