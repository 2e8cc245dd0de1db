"""Support score of a claim against the passage it cites: semantic similarity plus agreement features,
combined by gradient-boosted trees fitted on the PubMedQA dev half (``python -m
evals.support_fit`` writes ``support_model.json`` beside this module; nothing here is tuned by hand).

Features (all computed offline, no LLM):

- ``sim_max``: maximum cosine of the claim with the passage's sentences and 2-3 sentence windows.
- ``coverage``: share of the claim's content words (stemmed, stop words dropped) found in the passage.
- ``num_missing``: numbers in the claim that the passage does not contain (capped at 3).
- ``dir_conflict``: direction words whose axis the passage uses only with the opposite polarity (capped at 3).
- ``neg_unmatched``: 1 when the claim negates and the passage region it matches best has no negation.
- ``ent_missing``: named entities of the claim (genes, motifs, residues, accessions, species) not in the passage.
- ``dir_balance``: whether the passage's direction words near the claim's context words agree (+1) or take the
  opposite polarity (-1) (:func:`agent.claims.contrast.direction_balance`).
- ``gap_dir`` / ``gap_neg``: ``sim_max`` of the claim minus that of its best variant with one direction word
  flipped / one negation removed (0 without such a variant): negative when the passage prefers the variant.
- ``disagree``: 1 when any of the number, direction, negation or entity checks found a disagreement.
- ``ce`` (only when a cross-encoder was built, :mod:`agent.claims.cross`): its P(supported) for the claim and
  the passage sentences it matches; a second set of trees (the model's ``cross`` section) reads all eleven.
  Without the weights the scorer uses the first trees, which always ship.

The negation check reads, for each sentence of the claim with a negation, the passage region that sentence
matches best (a hedge in a claim's last sentence is not checked against the region its first sentence matches).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from agent.claims import contrast as K
from agent.claims import features as F
from agent.claims.semantic import memo_for, passage_sentences, passage_units, similarities
from agent.citations import has_cjk

MODEL_PATH = Path(__file__).with_name("support_model.json")
FEATURES = ("sim_max", "coverage", "num_missing", "dir_conflict", "neg_unmatched", "ent_missing", "dir_balance",
            "gap_dir", "gap_neg", "disagree")
# with a built cross-encoder (agent.claims.cross): its P(supported) of the claim and its window is one more feature,
# read by a second set of trees (the model's "cross" section); without one the trees above decide
CROSS_FEATURES = (*FEATURES, "ce")
CAP = 3.0
# A claim is supported only when the score reaches the threshold AND none of these disagreements was found: a
# number or a named entity the cited text lacks, or a direction word it uses only the other way round, is what a
# reader rejects first, whatever the overall similarity. The negation check is left to the fitted model: alone it
# fires on 21% of true PubMedQA conclusions ("no particular significance" against a text that never says "no").
# A vetoed claim's score is scaled below the threshold (score * threshold), so `score >= threshold` is the same
# as `supported` and rankings (AUROC) measure the decision that is made.
DISAGREE_FEATURES = ("num_missing", "dir_conflict", "neg_unmatched", "ent_missing")
VETO_FEATURES = ("num_missing", "dir_conflict", "ent_missing")
CROSS_LINGUAL_VETO = ("num_missing", "ent_missing")
ALIGN_TOP = 3  # units whose text the direction/negation checks read (the passage region the claim matches)


@dataclass
class SupportScore:
    score: float
    supported: bool
    reasons: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> dict[str, Any]:
    p = Path(path) if path else MODEL_PATH
    try:
        model = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuntimeError(f"support model {p} is missing: run `python -m evals.support_fit` to create it") from None
    if list(model.get("features", [])) != list(FEATURES):
        raise RuntimeError(f"support model {p} was fitted for features {model.get('features')}, this code computes "
                           f"{list(FEATURES)}: re-run `python -m evals.support_fit`")
    if model.get("kind") != "trees":
        raise RuntimeError(f"support model {p} is not a tree model (kind {model.get('kind')!r}): re-run "
                           "`python -m evals.support_fit`")
    if "cross" in model and list(model["cross"].get("features", [])) != list(CROSS_FEATURES):
        raise RuntimeError(f"support model {p}: its cross-encoder trees expect {model['cross'].get('features')}, "
                           f"this code computes {list(CROSS_FEATURES)}: re-run `python -m evals.support_fit`")
    return model


def coverage(claim: str, passage: str) -> float:
    from agent.kb.text import tokenize

    toks = set(tokenize(claim))
    if not toks:
        return 1.0
    return len(toks & set(tokenize(passage))) / len(toks)


def feature_values(claim: str, passage: str, sims: np.ndarray, units: list[str],
                   variant_sims: list[tuple[str, float]] = (),
                   neg_regions: list[tuple[str, str]] | None = None) -> tuple[dict[str, float], list[str]]:
    """The feature vector of a (claim, passage) pair given the unit similarities (``variant_sims``: (kind, best
    unit similarity) of the claim's :func:`agent.claims.contrast.variants`; ``neg_regions``: (sentence, passage
    region it matches best) for each sentence of the claim with a negation), and the reasons behind it."""
    reasons: list[str] = []
    order = np.argsort(-sims)[:ALIGN_TOP] if len(sims) else []
    region = " ".join(units[i] for i in order) if len(order) else passage
    _, num_missing, r = F.number_agreement(claim, passage)
    reasons += r
    _, dir_conflict, r = F.direction_agreement(claim, passage, region)
    reasons += r
    neg_unmatched = 0
    for sent, sent_region in neg_regions or [(claim, region)]:  # each negated sentence where it matches best
        _, n, r = F.negation_agreement(sent, passage, sent_region)
        neg_unmatched += n
        reasons += r
    _, ent_missing, r = F.entity_agreement(claim, passage)
    reasons += r
    feats = {
        "sim_max": float(sims.max()) if len(sims) else 0.0,
        "coverage": coverage(claim, passage),
        "num_missing": min(float(num_missing), CAP),
        "dir_conflict": min(float(dir_conflict), CAP),
        "neg_unmatched": float(min(neg_unmatched, 1)),
        "ent_missing": min(float(ent_missing), CAP),
        "dir_balance": K.direction_balance(claim, passage),
    }
    feats["disagree"] = float(any(feats[f] > 0 for f in DISAGREE_FEATURES))
    for kind in ("direction", "negation"):
        best = max((v for k, v in variant_sims if k == kind), default=None)
        feats["gap_" + kind[:3]] = feats["sim_max"] - best if best is not None and len(sims) else 0.0
    return feats, reasons


def pair_features(memo, claim: str, passage: str) -> tuple[dict[str, float], list[str]]:
    """Features and reasons of one pair, vectors from ``memo`` (:class:`agent.claims.semantic.VectorMemo`)."""
    units = passage_units(passage)
    variant_sims = [(k, float(similarities(memo, v, units).max())) for k, v in K.variants(claim)]
    neg_regions = []
    for sent in negated_sentences(claim):
        order = np.argsort(-similarities(memo, sent, units))[:ALIGN_TOP]
        neg_regions.append((sent, " ".join(units[i] for i in order)))
    return feature_values(claim, passage, similarities(memo, claim, units), units, variant_sims, neg_regions)


def negated_sentences(claim: str) -> list[str]:
    """The sentences of a (possibly multi-sentence) claim that contain a negation."""
    return [s for s in passage_sentences(claim) if F.negations(s)]


def prefetch(memo, pairs: list[tuple[str, str]]) -> None:
    """Encode every distinct claim (and its variants) and passage unit of many pairs in one batch."""
    claims = list(dict.fromkeys(c for c, _ in pairs))
    texts = claims + [v for c in claims for _, v in K.variants(c)] + [s for c in claims for s in negated_sentences(c)]
    memo.encode(list(dict.fromkeys(texts + [u for _, p in pairs for u in passage_units(p)])))


def _leaf(tree: dict[str, list], x: list[float]) -> float:
    node = 0
    while tree["left"][node] != -1:
        node = tree["left"][node] if x[tree["feature"][node]] <= tree["threshold"][node] else tree["right"][node]
    return tree["value"][node]


def combine(feats: dict[str, float], model: dict[str, Any]) -> float:
    """Support probability from the features: the gradient-boosted trees written by ``evals.support_fit``."""
    x = [feats[f] for f in model["features"]]
    z = float(model["init"]) + float(model["learning_rate"]) * sum(_leaf(t, x) for t in model["trees"])
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


class SupportScorer:
    """Scores claims against passages. ``embedder``: an object with ``encode_documents`` (default: the knowledge
    base's MiniLM); ``cache``: an optional :class:`agent.kb.embeddings.EmbeddingCache`; ``cross_encoder``:
    ``"auto"`` (the built one at the default place, when the model has trees for it), a directory, a loaded
    :class:`agent.claims.cross.CrossVerdict`, or None (feature trees alone)."""

    def __init__(self, embedder=None, cache=None, model: dict[str, Any] | None = None, threshold: float | None = None,
                 cross_encoder: Any = "auto"):
        if embedder is None:
            from agent.claims.semantic import default_embedder

            embedder = default_embedder()
        self.memo = memo_for(embedder, cache)
        self.model = model or load_model()
        self.cross = None
        if cross_encoder is not None and "cross" in self.model:
            from agent.claims import cross as X

            self.cross = (cross_encoder if isinstance(cross_encoder, X.CrossVerdict)
                          else X.load(None if cross_encoder == "auto" else cross_encoder))
        self.trees = self.model["cross"] if self.cross else self.model
        self.threshold = float(threshold if threshold is not None else self.trees["threshold"])

    def features(self, claim: str, passage: str, ce: float | None = None) -> tuple[dict[str, float], list[str]]:
        feats, reasons = pair_features(self.memo, claim, passage)
        if self.cross:
            feats["ce"] = ce if ce is not None else self.cross.scores(self.memo, [(claim, passage)])[0]
        return feats, reasons

    def score(self, claim: str, passage: str, ce: float | None = None) -> SupportScore:
        feats, reasons = self.features(claim, passage, ce)
        p = combine(feats, self.trees)
        if has_cjk(claim) != has_cjk(passage):
            # A Chinese claim about an English passage (or the reverse): the English sentence model cannot compare
            # them, so only what survives translation decides: the claim's numbers and entities must be there.
            ok = not any(feats[f] > 0 for f in CROSS_LINGUAL_VETO)
            note = "cross-lingual claim: checked on numbers and named entities only"
            return SupportScore(round(p, 4), ok, reasons + [note], feats)
        vetoed = any(feats[f] > 0 for f in VETO_FEATURES)
        if vetoed:
            p *= self.threshold
        ok = p >= self.threshold and not vetoed
        if not ok and not reasons:
            reasons.append(f"the cited text does not say this (closest sentence similarity {feats['sim_max']:.2f})")
        return SupportScore(round(p, 4), ok, reasons, feats)

    def score_many(self, pairs: list[tuple[str, str]]) -> list[SupportScore]:
        """Score many pairs, encoding every distinct text in one batch first (fast for evaluations)."""
        prefetch(self.memo, pairs)
        ces = self.cross.scores(self.memo, pairs) if self.cross else [None] * len(pairs)
        return [self.score(c, p, ce) for (c, p), ce in zip(pairs, ces)]
