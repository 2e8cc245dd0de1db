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


def test_eval_compare_passages_end_to_end(tmp_path, monkeypatch):
    """`bioagent eval compare --suite passages`: real embedding model and embedded Qdrant, two configurations
    (the second with another chunk size, so another collection), per-configuration metrics and paired CIs."""
    from typer.testing import CliRunner

    from agent.cli import app
    from agent.settings import get_settings
    from tests.fixtures.kb import shared_cache_dir

    qrels = tmp_path / "q.jsonl"
    rows = [("Which insects spread geminiviruses?", "geminivirus", "spread by whiteflies and leafhoppers"),
            ("What is the Walker A motif of PCV2 Rep?", "rep-motifs", "Walker A motif (GPPGCGKS in porcine circovirus 2)")]
    qrels.write_text("".join(json.dumps({"id": f"q{i}", "question": q, "relevant": [{"doc": d, "text": t}]}) + "\n"
                             for i, (q, d, t) in enumerate(rows)))
    configs = tmp_path / "c.yaml"
    configs.write_text("- name: base\n- name: small-chunks\n  settings: {chunking: {chunk_tokens: 48, overlap_tokens: 8}}\n")
    for k, v in {"BIOAGENT_DATA_DIR": str(tmp_path / "d"), "BIOAGENT_EMBEDDING__MULTILINGUAL": "false",
                 "BIOAGENT_EMBEDDING__CACHE_DIR": str(shared_cache_dir())}.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["eval", "compare", "--suite", "passages", "-d", str(qrels), "--corpus",
                                     str(KB_DATA / "library"), "--configs-file", str(configs), "--out",
                                     str(tmp_path / "runs"), "--json", "--bootstrap", "500", "--no-progress"],
                               catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["questions"] == 2 and set(out["metrics"]) == {"base", "small-chunks"}
    assert out["metrics"]["base"]["recall@5"] == 1.0
    comps = {c["metric"]: c for c in out["comparisons"]}
    assert set(comps) == {"recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"}
    assert all(c["baseline"] == "base" and c["candidate"] == "small-chunks" and c["n"] == 2 for c in comps.values())
    saved = json.loads((next((tmp_path / "runs").iterdir()) / "results.json").read_text())
    assert saved["configs"]["base"]["collection"] != saved["configs"]["small-chunks"]["collection"]
