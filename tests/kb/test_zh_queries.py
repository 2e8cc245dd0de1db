"""The Chinese question sets of bench/zh_recall.py: format, provenance and the dev/test separation (no model).

`pubmedqa_zh_queries.jsonl` (dev half, the set the gloss route was built on) and `pubmedqa_zh_test_queries.jsonl`
(held-out test half: the 40 smallest test pubids, see tests/data/kb/SOURCE.md). Where the PubMedQA halves are
present (../shared/data/pubmedqa, absent in a fresh clone) each pubid and English question is checked against
its half, and the test selection against its rule.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from tests.fixtures.kb import KB_DATA, ROOT

DEV, TEST = KB_DATA / "pubmedqa_zh_queries.jsonl", KB_DATA / "pubmedqa_zh_test_queries.jsonl"
HALVES = ROOT.parent / "shared" / "data" / "pubmedqa"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load(path):
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("path", [DEV, TEST], ids=["dev", "test"])
def test_zh_question_file_format(path):
    rows = _load(path)
    assert len(rows) == 40
    for i, r in enumerate(rows, 1):
        assert set(r) == {"pubid", "question_en", "question_zh"}, f"line {i}: keys {sorted(r)}"
        assert isinstance(r["pubid"], str) and r["pubid"].isdigit(), f"line {i}: pubid {r['pubid']!r}"
        assert not CJK.search(r["question_en"]) and r["question_en"].strip(), f"line {i}: English question"
        zh = r["question_zh"]
        assert len(CJK.findall(zh)) >= 8 and len(CJK.findall(zh)) >= len(zh) / 3, f"line {i}: not Chinese: {zh}"
        assert zh.endswith(("？", "?")), f"line {i}: not a question: {zh}"
    for key in ("pubid", "question_en", "question_zh"):
        assert len({r[key] for r in rows}) == 40, f"duplicate {key}"


def test_test_set_is_disjoint_from_the_dev_set_and_in_rule_order():
    test, dev = _load(TEST), _load(DEV)
    assert not {r["pubid"] for r in test} & {r["pubid"] for r in dev}
    ids = [int(r["pubid"]) for r in test]
    assert ids == sorted(ids)


@pytest.mark.skipif(not HALVES.is_dir(), reason="PubMedQA halves not present (../shared/data/pubmedqa)")
def test_questions_come_from_their_half_and_the_test_selection_follows_its_rule():
    halves = {name: {r["pubid"]: r for r in _load(HALVES / f"pqal_{name}.jsonl")} for name in ("dev", "test")}
    for name, path in (("dev", DEV), ("test", TEST)):
        for r in _load(path):
            assert r["pubid"] in halves[name], f"{path.name}: {r['pubid']} not in the {name} half"
            assert r["question_en"] == halves[name][r["pubid"]]["question"], f"{path.name}: {r['pubid']}"
    rule = sorted(halves["test"], key=int)[:40]  # the rule written in SOURCE.md, fixed before any retrieval
    assert [r["pubid"] for r in _load(TEST)] == rule


def test_zh_recall_picks_the_split_and_rejects_a_mismatched_half(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT))
    from bench.zh_recall import SPLITS, main

    assert SPLITS["test"][1] == TEST and SPLITS["dev"][1] == DEV
    assert SPLITS["test"][0].name == "pqal_test.jsonl" and SPLITS["dev"][0].name == "pqal_dev.jsonl"
    wrong = tmp_path / "half.jsonl"  # a PubMedQA file without the test questions' abstracts
    wrong.write_text(json.dumps({"pubid": "1", "question": "q?", "contexts": ["an abstract"], "year": "2000"}) + "\n")
    monkeypatch.setattr(sys, "argv", ["zh_recall", "--split", "test", "--pubmedqa", str(wrong),
                                      "--data", str(tmp_path / "data")])
    with pytest.raises(SystemExit, match=r"pubmedqa_zh_test_queries.jsonl: 40 pubids not among the indexed"):
        main()
    assert not (tmp_path / "data").exists()  # stopped before any index was made
