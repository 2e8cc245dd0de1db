"""The optional cross-encoder of the support scorer: trained from the real MiniLM checkpoint on a handful of real
PubMedQA dev pairs, saved, loaded and used by the scorer's trees; and the clean fallback when it is absent."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from agent.claims import cross as X
from agent.claims.scorer import CROSS_FEATURES, FEATURES, SupportScorer, combine, load_model
from evals.support_cross import negation_removed, unrelated
from evals.support_fit import _trees

PAIRS = Path(__file__).resolve().parents[1] / "data" / "claims" / "pubmedqa_dev_pairs.jsonl"


def _rows():
    return [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _cross_model(seed: int = 0) -> dict:
    """The shipped trees plus a "cross" section fitted on data whose label follows the ce feature."""
    rng = np.random.default_rng(seed)
    Xs = rng.random((120, len(CROSS_FEATURES)))
    y = (Xs[:, -1] > 0.5).astype(int)
    cross, _, _ = _trees(Xs, y, np.arange(120) % 12, CROSS_FEATURES, {})
    return {**load_model(), "cross": cross}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A cross-encoder fine-tuned for a few steps on 8 real dev pairs (true conclusions and perturbed copies)."""
    rows = [r for r in _rows() if r.get("kind") == "perturbed"][:8]
    assert {r["label"] for r in rows} == {0, 1}
    out = tmp_path_factory.mktemp("ce")
    examples = [(r["claim"], r["passage"][:400], r["label"]) for r in rows]
    meta = X.train(examples, out, epochs=2, batch_size=4, max_length=64, lr=5e-5, threads=2)
    return out, meta, rows


def test_training_writes_a_loadable_model_with_its_metadata(trained):
    out, meta, rows = trained
    assert (out / X.META).is_file() and meta["examples"] == 8 and meta["steps"] == 4
    assert json.loads((out / X.META).read_text())["max_length"] == 64
    assert list(out.rglob("*.safetensors"))  # weights written (never committed: tmp dir here)
    verdict = X.load(out)
    assert verdict is not None and X.load(out) is verdict  # loaded once per process and build
    s = verdict.scores(SupportScorer(cross_encoder=None).memo, [(r["claim"], r["passage"]) for r in rows])
    assert len(s) == 8 and all(0.0 <= v <= 1.0 for v in s)
    assert len({round(v, 6) for v in s}) > 1  # the head reads its input: different pairs, different scores


def test_scorer_uses_the_cross_encoder_feature_in_its_second_trees(trained):
    out, _, rows = trained
    model = _cross_model()
    scorer = SupportScorer(model=model, cross_encoder=out)
    assert scorer.cross is not None and scorer.trees is model["cross"]
    assert scorer.threshold == model["cross"]["threshold"]
    claim, passage = rows[0]["claim"], rows[0]["passage"]
    feats, _ = scorer.features(claim, passage)
    assert set(feats) == set(CROSS_FEATURES)
    # the batch path and the one-pair path give the same cross-encoder score
    many = scorer.score_many([(claim, passage), (rows[1]["claim"], rows[1]["passage"])])
    assert abs(many[0].features["ce"] - feats["ce"]) < 1e-5
    # the trees read ce: the same features with a high / low cross-encoder score give a high / low support score
    hi = combine({**feats, "ce": 0.95}, model["cross"])
    lo = combine({**feats, "ce": 0.05}, model["cross"])
    assert hi > 0.8 > 0.2 > lo


def test_scorer_falls_back_to_the_feature_trees_without_weights(tmp_path, caplog):
    model = _cross_model()
    missing = SupportScorer(model=model, cross_encoder=tmp_path / "never-built")
    assert missing.cross is None and missing.trees is model and missing.threshold == model["threshold"]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / X.META).write_text('{"max_length": 64}')  # metadata without weights: a half-copied directory
    with caplog.at_level(logging.WARNING):
        assert X.load(broken) is None
    assert "feature trees alone" in caplog.text
    off = SupportScorer(model=model, cross_encoder=None)
    s = off.score("Smoking increased the risk of cancer.", "Smoking increased the risk of lung cancer in the cohort.")
    assert set(s.features) == set(FEATURES) and 0.0 <= s.score <= 1.0


def test_default_directory_follows_the_setting(data_dir, monkeypatch, tmp_path):
    assert X.default_dir() == data_dir / "models" / "support-ce"
    assert X.load() is None  # nothing built in a fresh data dir
    from agent.settings import get_settings

    monkeypatch.setenv("BIOAGENT_AGENT__SUPPORT_CROSS_ENCODER", str(tmp_path / "ce"))
    get_settings.cache_clear()
    assert X.default_dir() == tmp_path / "ce"


def test_model_with_mismatched_cross_features_is_rejected(tmp_path):
    bad = {**load_model(), "cross": {"features": list(FEATURES)}}
    p = tmp_path / "m.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(RuntimeError, match="cross-encoder trees expect"):
        load_model(str(p))


def test_training_needs_both_labels(tmp_path):
    with pytest.raises(ValueError, match="both labels"):
        X.train([("a", "b", 1)], tmp_path / "x")


def test_probe_sets_are_built_from_dev_rows_only():
    rows = _rows()
    held = negation_removed(rows)
    assert held and all(r["label"] == 0 and r["perturbation"] == "negation_removed" for r in held)
    originals = {r["claim"] for r in rows if r.get("kind") == "perturbed" and r["label"] == 1}
    assert all(r["claim"] not in originals for r in held)  # each one lost its negation
    unrel = unrelated(rows, seed=0)
    own = {r["pubid"]: r["passage"] for r in rows if r["label"] == 1}
    assert len(unrel) == sum(r.get("kind") == "perturbed" for r in rows)
    assert all(r["passage"] != own[r["pubid"]] for r in unrel)


def test_cross_validated_scores_carry_the_scorers_veto():
    from evals.support_fit import _as_scored

    Xs = np.zeros((3, len(FEATURES)))
    Xs[1, FEATURES.index("num_missing")] = 1  # a number the passage lacks: vetoed
    Xs[2, FEATURES.index("neg_unmatched")] = 1  # the negation check alone does not veto
    assert list(_as_scored(np.asarray([0.9, 0.9, 0.9]), Xs, 0.5)) == [0.9, 0.45, 0.9]
