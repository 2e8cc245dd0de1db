"""Dataset loaders: the shipped slices load; bad records fail with file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.datasets import DatasetError, detect_format, load_corpus, load_dataset

DATA = Path(__file__).resolve().parents[1] / "data" / "evals"


def write(tmp_path: Path, rows, name: str = "d.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                 encoding="utf-8")
    return p


def test_pubmedqa_slice():
    ds = load_dataset(DATA / "pubmedqa_dev30.jsonl")
    assert ds.format == "pubmedqa" and len(ds) == 30 and len(ds.documents) == 30
    first = ds.items[0]
    assert first.id == "10808977" and first.label == "yes" and first.gold_doc_ids == ["pubmed:10808977"]
    doc = ds.documents[0]
    assert doc.id == "pubmed:10808977" and doc.title == "" and doc.text.startswith("Telephone counseling")
    assert first.question not in doc.text  # the question is not planted in its own document
    assert len(ds.sha256) == 64


def test_generic_qa_and_sequence_slices():
    qa = load_dataset(DATA / "cress_qa.jsonl")
    assert qa.format == "qa" and qa.documents == []
    by_id = {i.id: i for i in qa.items}
    assert by_id["q-zh-pcv2-rep"].language == "zh"
    assert by_id["t-mutation"].gold_tool == "score_mutations" and by_id["t-mutation"].gold_tool_args == {
        "mutations": ["Y96F"]}
    seq = load_dataset(DATA / "sequence_tasks.jsonl")
    assert seq.format == "sequence" and len(seq) == 23
    pcv2 = seq.items[0]
    assert pcv2.id == "NP_937956.1" and pcv2.expected_call == "yes"
    assert pcv2.expected_motifs["motif_III"] == 96 and pcv2.sequence.startswith(">NP_937956.1\nMPSKKNGRSG")
    assert {t.expected_call for t in seq.items} == {"yes", "huh_only", "no"}


def test_sample_is_seeded_and_stable():
    ds = load_dataset(DATA / "pubmedqa_dev30.jsonl")
    a = [i.id for i in ds.sample(5, seed=1).items]
    assert a == [i.id for i in ds.sample(5, seed=1).items]
    assert a != [i.id for i in ds.sample(5, seed=2).items]
    assert len(set(a)) == 5 and ds.sample(None, 0) is ds and ds.sample(100, 0) is ds
    order = [i.id for i in ds.items]
    assert a == sorted(a, key=order.index)  # file order is kept


@pytest.mark.parametrize("rows, line, field, words", [
    (['{"pubid": "1", "question": "q?", "contexts": ["c"], "final_decision": "yes"}', "{not json"], 2, None,
     "invalid JSON"),
    ([{"pubid": "1", "question": "q?", "contexts": ["c"], "final_decision": "probably"}], 1, "final_decision",
     "expected one of yes, no, maybe"),
    ([{"pubid": "1", "question": "", "contexts": ["c"], "final_decision": "no"}], 1, "question", "missing or empty"),
    ([{"pubid": "1", "question": "q", "contexts": "c", "final_decision": "no"},
      {"pubid": "1", "question": "q", "contexts": ["c"], "final_decision": "no"}], 2, "pubid", "duplicate id"),
    ([{"pubid": "1", "question": "q", "contexts": [3, ""], "final_decision": "no"}], 1, "contexts", "item 1"),
])
def test_pubmedqa_errors(tmp_path, rows, line, field, words):
    p = write(tmp_path, rows)
    with pytest.raises(DatasetError) as e:
        load_dataset(p, "pubmedqa")
    assert e.value.line == line and e.value.field == field and e.value.path == str(p)
    assert words in str(e.value) and str(p) in str(e.value) and f"line {line}" in str(e.value)


@pytest.mark.parametrize("row, field, words", [
    ({"question": "q"}, "id", "missing"),
    ({"id": "a", "question": "q", "language": "fr"}, "language", "expected one of en, zh"),
    ({"id": "a", "question": "q", "gold_doc_ids": "x y"}, None, None),  # a single string is one id: fine
    ({"id": "a", "question": "q", "gold_doc_ids": [1.5]}, "gold_doc_ids", "item 0"),
    ({"id": "a", "question": "q", "gold_tool_args": {"x": 1}}, "gold_tool_args", "without gold_tool"),
    ({"id": "a", "question": "q", "documents": [{"id": "d1"}]}, "documents[0].text", "missing"),
])
def test_qa_errors(tmp_path, row, field, words):
    p = write(tmp_path, ['{"id": "ok", "question": "fine?"}', row])
    if field is None:
        assert load_dataset(p, "qa").items[1].gold_doc_ids == ["x y"]
        return
    with pytest.raises(DatasetError) as e:
        load_dataset(p, "qa")
    assert e.value.line == 2 and e.value.field == field and words in str(e.value)


@pytest.mark.parametrize("row, field, words", [
    ({"id": "s", "sequence": "MKT", "expected_call": "maybe"}, "expected_call", "yes, partial, huh_only, no"),
    ({"id": "s", "sequence": "MKTAYIAK", "expected_motifs": {"motif_IV": 3}}, "expected_motifs.motif_IV",
     "unknown motif"),
    ({"id": "s", "sequence": "MKTAYIAK", "expected_motifs": {"motif_I": 0}}, "expected_motifs.motif_I",
     "1-based"),
    ({"id": "s", "sequence": "MKTAYIAK"}, "expected_call", "needs expected_call"),
    ({"id": "s", "fasta": "missing.faa", "expected_call": "no"}, "fasta", "no such file"),
    ({"id": "s", "fasta": "rep.faa", "record_id": "XX_1", "expected_call": "no"}, "record_id", "XX_1"),
    ({"id": "s", "expected_call": "no"}, "sequence", "missing"),
    ({"id": "s", "sequence": "MKT1@@", "expected_call": "no"}, "sequence", ""),
])
def test_sequence_errors(tmp_path, row, field, words):
    (tmp_path / "rep.faa").write_text((DATA / "rep_proteins.faa").read_text())
    p = write(tmp_path, [row])
    with pytest.raises(DatasetError) as e:
        load_dataset(p, "sequence")
    assert e.value.line == 1 and e.value.field == field and words in str(e.value)


def test_detect_format_and_file_errors(tmp_path):
    assert detect_format(DATA / "pubmedqa_dev30.jsonl") == "pubmedqa"
    assert detect_format(DATA / "cress_qa.jsonl") == "qa"
    assert detect_format(DATA / "sequence_tasks.jsonl") == "sequence"
    with pytest.raises(DatasetError, match="cannot tell the format"):
        detect_format(write(tmp_path, [{"foo": 1}]))
    with pytest.raises(DatasetError, match="no records"):
        load_dataset(write(tmp_path, ["", "  "]))
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "nope.jsonl")
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"id": "\xe9"}\n')
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_dataset(bad, "qa")
    with pytest.raises(DatasetError, match="expected a JSON object"):
        load_dataset(write(tmp_path, ["[1, 2]"]), "qa")
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_dataset(DATA / "cress_qa.jsonl", "csv")


def test_corpus(tmp_path):
    recs = load_corpus(write(tmp_path, [{"id": "d1", "title": "T", "text": "body", "year": 2001}]))
    assert recs[0].id == "d1" and recs[0].year == 2001
    with pytest.raises(DatasetError) as e:
        load_corpus(write(tmp_path, [{"id": "d1", "text": "x"}, {"id": "d2", "text": "y", "year": "soon"}]))
    assert e.value.line == 2 and e.value.field == "year"
    with pytest.raises(DatasetError) as e:
        load_corpus(write(tmp_path, [{"id": "d1", "text": ""}]))
    assert e.value.field == "text"


def test_line_separators_inside_strings_do_not_split_records(tmp_path):
    """PubMedQA abstracts contain U+2029; only a newline ends a record."""
    p = write(tmp_path, [{"pubid": "7", "question": "q?", "contexts": ["one\u2029two\u2028three"],
                          "final_decision": "maybe"}])
    assert "\u2029" in p.read_text(encoding="utf-8")
    ds = load_dataset(p)
    assert len(ds) == 1 and ds.documents[0].text == "one\u2029two\u2028three"
