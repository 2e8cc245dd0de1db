"""The index stays true to its settings: fingerprints, stale documents, --reindex, crash-safe replace, bounded
writes, the optimise threshold. Real embedding model, real embedded Qdrant."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from agent.kb import KnowledgeBase, Record
from agent.kb.errors import StoreConfigError
from agent.kb.store import PointData, StoreFilter
from agent.kb.store.base import META_ID
from tests.fixtures.kb import KB_DATA, ROOT, kb_settings

NO_ML = {"multilingual": False}
RECORDS = [Record(id=f"r{i}", title=f"Record {i}", text=f"Rep proteins of circovirus {i} nick the origin. " * 12)
           for i in range(3)]


def open_kb(d, **sections) -> KnowledgeBase:
    sections.setdefault("embedding", NO_ML)
    return KnowledgeBase(kb_settings(d, **sections))


def chunk_counts(kb) -> dict[str, int]:
    return dict(kb.store.facet("doc_id", StoreFilter(match={"kind": ["chunk"]})))


def test_changed_chunking_is_reported_and_reingest_is_no_longer_a_noop(tmp_path):
    kb = open_kb(tmp_path)
    first = kb.ingest_records(RECORDS)
    st = kb.stats()
    assert st["index_changes"] == "none" and st["stale_documents"] == 0 and "reindex" not in st
    kb.close()

    kb = open_kb(tmp_path, chunking={"chunk_tokens": 32, "overlap_tokens": 8})
    try:
        st = kb.stats()
        assert st["index_changes"] == "chunk_tokens: 200 -> 32, overlap_tokens: 40 -> 8"
        assert st["stale_documents"] == 3 and "--reindex" in st["reindex"]
        again = kb.ingest_records(RECORDS)  # the same records: rebuilt, since they were built another way
        assert again.replaced_docs == ["r0", "r1", "r2"] and not again.unchanged_docs
        assert again.chunks_written > first.chunks_written
        assert chunk_counts(kb) == {d.doc_id: d.chunks for d in kb.list_documents()}
        assert kb.stats()["stale_documents"] == 0
        assert kb.ingest_records(RECORDS).unchanged_docs == ["r0", "r1", "r2"]
    finally:
        kb.close()


def test_reindex_rebuilds_stale_files_and_records(tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(KB_DATA / "library", lib)
    kb = open_kb(tmp_path / "d")
    kb.ingest_paths([lib])
    kb.ingest_records(RECORDS)
    n_docs = len(kb.list_documents())
    kb.close()

    kb = open_kb(tmp_path / "d", ingest={"bm25_k1": 0.9}, chunking={"title_in_embedding": False})
    try:
        st = kb.stats()
        assert "bm25_k1: 1.2 -> 0.9" in st["index_changes"] and "title_in_embedding: true -> false" in st["index_changes"]
        assert st["stale_documents"] == n_docs
        rep = kb.reindex()
        assert len(rep.reindexed_docs) == n_docs and not rep.not_rebuilt and not rep.errors
        st = kb.stats()
        assert st["index_changes"] == "none" and st["stale_documents"] == 0 and st["documents"] == n_docs
        assert kb.search("Walker A motif binds ATP", k=1)[0].doc_id == "rep-motifs"
        man = kb._manifest("rep-motifs")
        assert man["index"]["bm25_k1"] == 0.9 and man["index"]["title_in_embedding"] is False
    finally:
        kb.close()


def test_a_new_embedding_model_needs_a_rebuild_and_reindex_recreates_the_collection(tmp_path):
    from agent.kb.embeddings import resolve_model

    lib = tmp_path / "lib"
    shutil.copytree(KB_DATA / "library", lib)
    kb = open_kb(tmp_path / "d")
    kb.ingest_paths([lib / "circovirus.md", lib / "geminivirus.md"])
    kb.ingest_records(RECORDS[:1])
    kb.close()

    other = resolve_model("all-MiniLM-L6-v2")  # the same weights under another name: another model to the index
    kb = open_kb(tmp_path / "d", embedding={"multilingual": False, "model": other})
    try:
        with pytest.raises(StoreConfigError, match="--reindex"):
            kb.search("pigs")
        assert f"embedding_model: all-MiniLM-L6-v2 -> {other}" in kb.stats()["index_changes"]
        (lib / "geminivirus.md").unlink()  # a document without a source left: nothing is dropped
        with pytest.raises(StoreConfigError, match="geminivirus"):
            kb.reindex()
        assert kb.stats()["documents"] == 3
        shutil.copy(KB_DATA / "library" / "geminivirus.md", lib / "geminivirus.md")
        rep = kb.reindex()
        assert sorted(rep.reindexed_docs) == ["circovirus", "geminivirus", "r0"] and not rep.errors
        assert kb._read_meta()["embedding_model"] == other and kb.stats()["index_changes"] == "none"
        assert kb.search("whiteflies transmit", k=1)[0].doc_id == "geminivirus"
    finally:
        kb.close()


def test_collections_built_before_fingerprints_are_flagged(tmp_path):
    """An old collection: meta point with only the models and the old sparse scheme, manifests without a
    fingerprint (as written before this change)."""
    kb = open_kb(tmp_path)
    kb.ingest_records(RECORDS)
    meta = {k: v for k, v in kb._read_meta().items() if k not in ("index", "fp")}
    meta["sparse"] = "bm25-blake2b31-v1"
    kb.store.upsert([PointData(META_ID, {}, meta)])
    for man in kb.store.scroll(StoreFilter(match={"kind": ["doc"]}), limit=10)[0]:
        p = {k: v for k, v in man.payload.items() if k != "fp"}
        kb.store.upsert([PointData(man.id, {}, p)])
    kb.store.flush()
    kb.close()
    kb = open_kb(tmp_path)
    try:
        st = kb.stats()
        assert "sparse: bm25-blake2b31-v1 -> bm25-blake2b31-snowball-en+jieba-v2" in st["index_changes"]
        assert "chunk_tokens: (not recorded) -> 200" in st["index_changes"]
        assert st["stale_documents"] == 3
        assert kb.ingest_records(RECORDS).replaced_docs == ["r0", "r1", "r2"]
    finally:
        kb.close()


def _child(data, body: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from tests.fixtures.kb import kb_settings
        from agent.kb import KnowledgeBase, Record
        from agent.kb import writer
        kb = KnowledgeBase(kb_settings({str(data)!r}, embedding={{"multilingual": False}}))
    """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


V1 = "Version one sentence number {i} about the circovirus origin. "
V2 = "Version two sentence number {i} about the geminivirus capsid. "


def _doc(template: str, n: int = 30) -> str:
    return "".join(template.format(i=i) for i in range(n))


def test_replace_killed_before_the_old_version_is_deleted(tmp_path):
    """Killed between the new version's write and the old version's delete: the new version is complete, the
    old passages are left over, `kb stats` says so and the next ingest finishes the replacement."""
    data = tmp_path / "data"
    proc = _child(data, f"""
        kb.ingest_records([Record(id="doc", text={_doc(V1)!r})])
        kb.store.delete = lambda flt: os._exit(137)
        kb.ingest_records([Record(id="doc", text={_doc(V2)!r})])
    """)
    assert proc.returncode == 137, proc.stderr[-2000:]
    kb = open_kb(data)
    try:
        man = kb._manifest("doc")
        assert kb.stats()["incomplete_documents"] == 1
        assert chunk_counts(kb)["doc"] > man["chunks"]  # new version + old leftovers
        rep = kb.ingest_records([Record(id="doc", text=_doc(V2))])
        assert rep.replaced_docs == ["doc"]
        assert chunk_counts(kb) == {"doc": kb._manifest("doc")["chunks"]} and kb.stats()["incomplete_documents"] == 0
        assert all("Version two" in h.text for h in kb.search("circovirus origin", k=20))
    finally:
        kb.close()


def test_replace_killed_in_the_middle_of_a_large_document_keeps_the_old_version(tmp_path):
    """A large document is written in bounded batches; killed after the first one, the old manifest and every
    old passage are still there (the old version is recoverable) and re-ingesting completes the new one."""
    data = tmp_path / "data"
    proc = _child(data, f"""
        kb.ingest_records([Record(id="doc", text={_doc(V1)!r})])
        writer.MAX_POINTS_PER_WRITE = 2
        real, n = kb.store.upsert, {{"calls": 0}}
        def upsert(points):
            assert len(points) <= 2
            n["calls"] += 1
            if n["calls"] == 2:
                os._exit(137)
            real(points)
        kb.store.upsert = upsert
        kb.ingest_records([Record(id="doc", text={_doc(V2)!r})])
    """)
    assert proc.returncode == 137, proc.stderr[-2000:]
    kb = open_kb(data)
    try:
        man = kb._manifest("doc")
        old = [r.payload["text"] for r in kb.store.scroll(
            StoreFilter(match={"kind": ["chunk"]}, exclude={"doc_version": ["x"]}), limit=500)[0]
            if r.payload["doc_version"] == man["doc_version"]]
        assert man["chunks"] == len(old) and all("Version one" in t for t in old)
        rep = kb.ingest_records([Record(id="doc", text=_doc(V2))])
        assert rep.replaced_docs == ["doc"] and chunk_counts(kb) == {"doc": kb._manifest("doc")["chunks"]}
    finally:
        kb.close()


def test_large_documents_are_written_in_bounded_batches(kb_factory, monkeypatch):
    from agent.kb import writer

    kb = kb_factory(embedding=NO_ML, chunking={"chunk_tokens": 32, "overlap_tokens": 0})
    monkeypatch.setattr(writer, "MAX_POINTS_PER_WRITE", 5)
    calls: list[list] = []
    real = kb.store.upsert
    monkeypatch.setattr(kb.store, "upsert", lambda pts: (calls.append(pts), real(pts)))
    rep = kb.ingest_records([Record(id="big", text=_doc(V1, 20)), Record(id="small", text="A short one.")])
    doc_writes = [c for c in calls if any(p.payload.get("kind") in ("chunk", "doc") for p in c)]
    assert rep.chunks_written > 10 and all(len(c) <= 5 for c in doc_writes)
    kinds = [(p.payload["doc_id"], p.payload["kind"]) for c in doc_writes for p in c]
    assert kinds.index(("big", "doc")) == max(i for i, k in enumerate(kinds) if k[0] == "big")  # manifest last
    assert chunk_counts(kb) == {"big": rep.chunks_written - 1, "small": 1}


def test_optimize_runs_only_after_enough_changes_and_the_count_persists(tmp_path, monkeypatch):
    from agent.kb.store.edge import EdgeStore

    calls = []
    real = EdgeStore.optimize
    monkeypatch.setattr(EdgeStore, "optimize", lambda self: (calls.append(1), real(self)))
    recs = [Record(id=f"o{i}", text=f"Short record {i} on nanovirus segments.") for i in range(8)]
    kb = open_kb(tmp_path, ingest={"optimize_min_changes": 6})
    kb.ingest_records(recs[:4])
    assert calls == [] and kb._read_meta()["changed_since_optimize"] == 4
    kb.close()
    kb = open_kb(tmp_path, ingest={"optimize_min_changes": 6})
    try:
        assert kb._read_meta()["changed_since_optimize"] == 4  # kept in the collection
        kb.ingest_records(recs[:4])  # unchanged: nothing written, nothing counted
        assert calls == [] and kb._read_meta()["changed_since_optimize"] == 4
        kb.ingest_records(recs[4:6])
        assert calls == [1] and kb._read_meta()["changed_since_optimize"] == 0
        assert kb.search("nanovirus segments", k=1)
    finally:
        kb.close()


def test_multilingual_vectors_are_a_lazy_phase_that_does_not_hold_ingest_back(tmp_path):
    recs = [Record(id="gem", title="Geminiviruses", text="Geminiviruses are spread by whiteflies and leafhoppers."),
            Record(id="pcv", title="Porcine circovirus", text="Porcine circovirus 2 causes wasting disease in pigs.")]
    kb = open_kb(tmp_path, embedding={"multilingual": True})
    try:
        rep = kb.ingest_records(recs)
        assert rep.multilingual_chunks == 0 and rep.multilingual_pending == 2 == kb.stats()["chunks_without_multilingual"]
        hits = kb.search("哪些昆虫传播双生病毒？", k=2)  # first non-English search: English routes meanwhile
        assert "gloss_dense" in hits[0].scores  # MiniLM on the question's English gloss
        kb._ml_thread.join(300)  # the fill it started in the background
        assert kb.multilingual_pending() == 0 and kb.stats()["chunks_without_multilingual"] == 0
        top = kb.search("哪些昆虫传播双生病毒？", k=2)[0]
        assert top.doc_id == "gem" and "multilingual" in top.scores and "dense" not in top.scores
        again = kb.ingest_records(recs + [Record(id="new", text="Nanoviruses have multipartite genomes.")])
        assert again.multilingual_pending == 1
        assert kb.backfill_multilingual().multilingual_chunks == 1 and kb.multilingual_pending() == 0
    finally:
        kb.close()
