"""evals.metrics on cases computed by hand."""

from __future__ import annotations

import math

import pytest

from evals import metrics as m


def test_recall_at_k():
    ranked = ["a", "b", "c", "d"]
    assert m.recall_at_k(ranked, ["c"], 2) == 0.0
    assert m.recall_at_k(ranked, ["c"], 3) == 1.0
    assert m.recall_at_k(ranked, ["a", "d", "z"], 4) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        m.recall_at_k(ranked, [], 1)


def test_reciprocal_rank():
    assert m.reciprocal_rank(["a", "b", "c"], ["c"]) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(["a", "b", "c"], ["b", "c"]) == 0.5
    assert m.reciprocal_rank(["a"], ["z"]) == 0.0


def test_ndcg_by_hand():
    # gold {b, d}: DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert m.ndcg_at_k(["a", "b", "c", "d"], ["b", "d"], 10) == pytest.approx(dcg / ideal)
    assert m.ndcg_at_k(["b", "d"], ["b", "d"]) == pytest.approx(1.0)
    # outside the cut-off counts nothing; a repeated id is counted once
    assert m.ndcg_at_k(["a", "b"], ["b"], 1) == 0.0
    assert m.ndcg_at_k(["b", "b"], ["b", "x"], 10) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_dedupe_keeps_first():
    assert m.dedupe(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]


def test_accuracy_and_macro_f1_by_hand():
    gold = ["yes", "yes", "no", "maybe", "no", "yes"]
    pred = ["yes", "no", "no", "yes", "no", "yes"]
    assert m.accuracy(pred, gold) == pytest.approx(4 / 6)
    # yes: tp 2, fp 1, fn 1 -> 4/6; no: tp 2, fp 1, fn 0 -> 4/5; maybe: tp 0, fn 1 -> 0
    f1 = m.per_class_f1(pred, gold, ["yes", "no", "maybe"])
    assert f1 == pytest.approx({"yes": 4 / 6, "no": 4 / 5, "maybe": 0.0})
    assert m.macro_f1(pred, gold, ["yes", "no", "maybe"]) == pytest.approx((4 / 6 + 4 / 5 + 0) / 3)
    # without labels: only labels that occur (here the same three)
    assert m.macro_f1(pred, gold) == pytest.approx((4 / 6 + 4 / 5) / 3)
    with pytest.raises(ValueError):
        m.accuracy(["yes"], ["yes", "no"])


def test_confusion():
    c = m.confusion(["yes", "no", "no"], ["yes", "yes", "no"], ["yes", "no", "maybe"])
    assert c["yes"] == {"yes": 1, "no": 1, "maybe": 0}
    assert c["no"]["no"] == 1 and c["maybe"] == {"yes": 0, "no": 0, "maybe": 0}


def test_mean_percentile_summarize():
    assert m.mean([1, None, 3]) == 2.0
    assert m.mean([None]) is None
    assert m.percentile([10, 20, 30, 40], 50) == 25.0  # numpy: linear interpolation
    assert m.percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert m.percentile([7], 95) == 7.0
    s = m.summarize([1, 2, 3, 4, None])
    assert s == {"mean": 2.5, "p50": 2.5, "p95": pytest.approx(3.85), "max": 4.0}
    assert m.summarize([]) is None
    with pytest.raises(ValueError):
        m.percentile([], 50)
