"""The sample library (examples/library, or the test library before it exists) through the shared fixture."""

from __future__ import annotations


def test_sample_library_is_searchable(sample_kb, sample_library_path):
    files = sorted(p.stem for p in sample_library_path.glob("*.md"))
    docs = sample_kb.list_documents()
    assert sorted(d.doc_id for d in docs) == files
    assert all(d.title and d.chunks > 0 for d in docs)
    st = sample_kb.stats()
    assert st["chunks"] == sum(d.chunks for d in docs) and st["chunks_without_multilingual"] == 0
    hits = sample_kb.search("Walker A motif of the SF3 helicase", k=5)
    assert hits and all(h.title and (h.section or h.page) for h in hits)
    assert any("walker" in h.text.lower() for h in hits)


def test_sample_library_answers_chinese_questions(sample_kb):
    hits = sample_kb.search("Rep蛋白的Walker A基序有什么作用？", k=5)
    assert "multilingual" in hits[0].scores
    assert any("walker" in h.text.lower() for h in hits)
