"""Paired bootstrap CIs on hand-computable cases, passage-level qrels (loading, matching, scoring)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from evals.retrieval_ci import compare_items, paired_bootstrap
from evals.retrieval_passages import Label, Qrel, QrelsError, load_qrels, score_hits
from tests.fixtures.kb import KB_DATA, ROOT


def test_constant_difference_has_a_point_interval():
    diff, lo, hi, p = paired_bootstrap([0, 0, 1, 0], [1, 1, 2, 1], n_boot=2000)
    assert (diff, lo, hi, p) == (1.0, 1.0, 1.0, 0.0)


def test_no_difference_is_never_significant():
    diff, lo, hi, p = paired_bootstrap([1, 0, 1], [1, 0, 1], n_boot=2000)
    assert (diff, lo, hi, p) == (0.0, 0.0, 0.0, 1.0)


def test_two_questions_by_hand():
    """d = (0, 1): a resample of two is (0,0), (0,1), (1,0) or (1,1), so the mean is 0, 0.5 or 1 with
    probabilities 1/4, 1/2, 1/4: the 95% interval is [0, 1], P(mean <= 0) = 1/4, so p = 2 * 1/4 = 0.5."""
    diff, lo, hi, p = paired_bootstrap([0, 0], [0, 1], n_boot=40_000, seed=3)
    assert diff == 0.5 and (lo, hi) == (0.0, 1.0)
    assert p == pytest.approx(0.5, abs=0.02)


def test_a_consistent_gain_is_significant_and_pairs_follow_question_ids():
    base = {f"q{i}": {"m": 0.0} for i in range(30)}
    better = {f"q{i}": {"m": 1.0 if i % 3 else 0.0} for i in range(30)}  # +1 on 20 of 30 questions
    [ci] = compare_items({"base": base, "new": dict(reversed(list(better.items())))}, "base", ["m"], n_boot=5000)
    assert ci.n == 30 and ci.diff == pytest.approx(2 / 3) and ci.significant and ci.p < 0.001
    assert 0.45 < ci.lo < ci.diff < ci.hi < 0.85


def test_unequal_lengths_are_an_error():
    with pytest.raises(ValueError, match="equally long"):
        paired_bootstrap([1, 2], [1])


@dataclass
class H:
    doc_id: str
    text: str


def test_passage_labels_match_by_document_and_substring():
    q = Qrel("x", "?", [Label("a", "the Walker A lysine"), Label("b", "TAGTATTAC at the top")])
    hits = [H("c", "the walker a lysine"),  # right text, wrong document
            H("a", "Mutating **the Walker\n  A** lysine blocks it"),  # markdown and line breaks ignored
            H("a", "other"), H("b", "found TAGTATTAC at the top of a hairpin")]
    m = score_hits(hits, q)
    assert m["recall@1"] == 0 and m["recall@5"] == 1.0 and m["mrr"] == 0.5
    ideal = 1 + 1 / 1.5849625007211563
    assert m["ndcg@10"] == pytest.approx((1 / 1.5849625007211563 + 1 / 2.321928094887362) / ideal)


def test_library_qrels_are_valid_and_every_label_is_in_its_document():
    from evals.retrieval_passages import norm

    qrels = load_qrels(KB_DATA / "library_qrels.jsonl")
    assert len([q for q in qrels if q.lang == "en"]) >= 40 and {q.lang for q in qrels} == {"en", "zh"}
    lib = ROOT / "examples" / "library"
    for q in qrels:
        for lab in q.relevant:
            assert norm(lab.text) in norm((lib / f"{lab.doc}.md").read_text()), (q.id, lab.doc)


def test_bad_qrels_name_the_line_and_field(tmp_path):
    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps({"id": "a", "question": "?", "relevant": [{"doc": "d"}]}) + "\n")
    with pytest.raises(QrelsError, match=r"q.jsonl:1, field 'relevant\[0\]'"):
        load_qrels(p)
    p.write_text("{not json\n")
    with pytest.raises(QrelsError, match="q.jsonl:1: invalid JSON"):
        load_qrels(p)
