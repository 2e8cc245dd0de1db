"""The knowledge base end to end, with the real embedding model and the real embedded engine."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from agent.kb import DocumentNotFoundError, IngestError, KnowledgeBase, Record, SearchFilters, get_knowledge_base
from agent.kb.store import StoreFilter
from tests.fixtures.kb import KB_DATA, ROOT, kb_settings

LIB = KB_DATA / "library"
NO_ML = {"multilingual": False}


def doc_ids(hits):
    return [h.doc_id for h in hits]


def test_ingest_search_and_hit_fields(kb_factory, lib_copy):
    kb = kb_factory(embedding=NO_ML)
    rep = kb.ingest_paths([lib_copy, KB_DATA / "records.jsonl", KB_DATA / "notes.txt"])
    assert sorted(rep.added_docs) == sorted(
        ["rep-motifs", "rolling-circle", "circovirus", "geminivirus", "esm-scoring", "rec:smaco", "rec:redondo",
         "rec:cyclo", "notes"]
    )
    assert rep.chunks_written >= 9 and not rep.errors
    hits = kb.search("Which motif of the helicase binds ATP?", k=3)
    top = hits[0]
    assert top.doc_id == "rep-motifs" and top.section == "Helicase domain"
    assert top.title.startswith("Conserved motifs") and top.source == "review" and top.year == 2019
    assert top.doi == "10.0000/bioagent-test.rep-motifs" and top.pmid == "90000001"
    assert {"dense", "sparse", "dbsf"} <= set(top.scores) and top.score == top.scores["dbsf"]
    assert "Walker A" in top.text and top.chunk_id
    assert "Helicase domain" in top.citation()
    st = kb.stats()
    assert st["documents"] == 9 and st["chunks"] == rep.chunks_written
    assert st["backend"] == "qdrant-edge" and st["embedding_model"] == "all-MiniLM-L6-v2"
    docs = {d.doc_id: d for d in kb.list_documents()}
    assert docs["rep-motifs"].chunks >= 2 and docs["rep-motifs"].metadata["references"]
    assert docs["rec:redondo"].pmid == "90000007" and docs["notes"].path.endswith("notes.txt")
    assert kb.has_document("circovirus") and not kb.has_document("nope")
    again = kb.get_chunks([top.chunk_id, "00000000-0000-0000-0000-000000000000"])
    assert [h.chunk_id for h in again] == [top.chunk_id]


def test_reingest_unchanged_is_a_noop(kb_factory, lib_copy):
    kb = kb_factory(embedding=NO_ML)
    first = kb.ingest_paths([lib_copy])
    ids_before = {h.chunk_id for h in kb.search("replication", k=50)}
    second = kb.ingest_paths([lib_copy])
    assert second.added_docs == [] and second.replaced_docs == [] and second.chunks_written == 0
    assert sorted(second.unchanged_docs) == sorted(first.added_docs)
    assert second.chunks_unchanged == first.chunks_written
    assert kb.stats()["chunks"] == first.chunks_written
    assert {h.chunk_id for h in kb.search("replication", k=50)} == ids_before


def test_changed_file_replaces_its_old_chunks(kb_factory, lib_copy):
    kb = kb_factory(embedding=NO_ML)
    kb.ingest_paths([lib_copy])
    old = kb.search("post-weaning multisystemic wasting syndrome", k=1, filters=SearchFilters(doc_id="circovirus"))[0]
    p = lib_copy / "circovirus.md"
    p.write_text(p.read_text().replace("Commercial\nvaccines", "Inactivated\nvaccines").replace("year: 2012", "year: 2013"))
    rep = kb.ingest_paths([p])
    assert rep.replaced_docs == ["circovirus"] and rep.added_docs == []
    new = kb.search("post-weaning multisystemic wasting syndrome", k=5, filters=SearchFilters(doc_id="circovirus"))
    assert all(h.chunk_id != old.chunk_id for h in new)
    assert all("Inactivated" in h.text and h.year == 2013 for h in new)
    assert kb.store.count(StoreFilter(match={"doc_id": ["circovirus"], "kind": ["chunk"]})) == len(new)
    assert kb.get_chunks([old.chunk_id]) == []


def test_remove_deletes_a_documents_chunks(kb_factory, lib_copy):
    kb = kb_factory(paths=[lib_copy], embedding=NO_ML)
    n_before = kb.stats()["chunks"]
    removed = kb.remove("rep-motifs")
    assert removed >= 2
    assert kb.stats()["chunks"] == n_before - removed
    assert "rep-motifs" not in doc_ids(kb.search("Walker A motif GPPGCGKS", k=10))
    assert not kb.has_document("rep-motifs")
    with pytest.raises(DocumentNotFoundError, match="no document with id 'rep-motifs'") as err:
        kb.remove("rep-motifs")
    assert isinstance(err.value, KeyError)


def test_filters_source_year_document(kb_factory, lib_copy):
    kb = kb_factory(paths=[lib_copy, KB_DATA / "records.jsonl"], embedding=NO_ML)
    q = "circular DNA virus"
    assert {h.source for h in kb.search(q, k=20, filters=SearchFilters(source="metagenomics"))} == {"metagenomics"}
    both = kb.search(q, k=20, filters=SearchFilters(source=["review", "methods"]))
    assert {h.source for h in both} == {"review", "methods"}
    years = [h.year for h in kb.search(q, k=20, filters=SearchFilters(year_min=2015, year_max=2019))]
    assert years and all(2015 <= y <= 2019 for y in years)
    assert all(h.year >= 2020 for h in kb.search(q, k=20, filters=SearchFilters(year_min=2020)))
    only = kb.search(q, k=20, filters=SearchFilters(doc_id=["geminivirus", "rec:cyclo"]))
    assert set(doc_ids(only)) == {"geminivirus", "rec:cyclo"}
    for mode in ("dense", "sparse"):
        assert set(doc_ids(kb.search("virus", k=20, mode=mode, filters=SearchFilters(doc_id="geminivirus")))) == {"geminivirus"}
    assert kb.search(q, filters=SearchFilters(source="no-such-source")) == []
    with pytest.raises(ValueError, match="year_min"):
        kb.search(q, filters=SearchFilters(year_min=2020, year_max=2010))


def test_explicitly_named_bad_files_raise_before_writing(kb_factory, tmp_path):
    kb = kb_factory(embedding=NO_ML)
    (tmp_path / "ok.md").write_text("# Fine\nA good document about circoviruses.")
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "text": "fine"}\n{oops\n')
    with pytest.raises(IngestError, match=r"bad\.jsonl:2"):
        kb.ingest_paths([tmp_path / "ok.md", tmp_path / "bad.jsonl"])
    assert kb.stats()["chunks"] == 0  # nothing was written
    for name, content in {"a.xyz": b"data", "e.txt": b"", "b.txt": b"\x00\x01binary"}.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(IngestError, match=name.replace(".", r"\.")):
            kb.ingest_paths([tmp_path / name])
    with pytest.raises(IngestError, match="no such file"):
        kb.ingest_paths([tmp_path / "missing.pdf"])
    with pytest.raises(IngestError, match="no supported files"):
        (tmp_path / "emptydir").mkdir()
        kb.ingest_paths([tmp_path / "emptydir"])


def test_oversized_file(kb_factory, tmp_path):
    kb = kb_factory(embedding=NO_ML, ingest={"max_file_mb": 0.001})
    (tmp_path / "big.txt").write_text("circovirus " * 200)
    with pytest.raises(IngestError, match=r"big\.txt.*over the limit"):
        kb.ingest_paths([tmp_path / "big.txt"])


def test_oversized_record(kb_factory):
    kb = kb_factory(embedding=NO_ML, ingest={"max_file_mb": 0.001})
    with pytest.raises(IngestError, match="record 'big'.*over the limit"):
        kb.ingest_records([Record(id="big", text="circovirus " * 200)])


def test_bad_file_inside_a_folder_is_reported_and_the_rest_ingested(kb_factory, tmp_path):
    kb = kb_factory(embedding=NO_ML)
    (tmp_path / "good.md").write_text("# Good\nRep proteins nick the origin.")
    (tmp_path / "empty.txt").write_text("")
    rep = kb.ingest_paths([tmp_path])
    assert rep.added_docs == ["good"]
    assert len(rep.errors) == 1 and "empty.txt" in rep.errors[0]


def test_invalid_records(kb_factory):
    kb = kb_factory(embedding=NO_ML)
    with pytest.raises(IngestError, match="duplicate id"):
        kb.ingest_records([Record(id="a", text="x"), Record(id="a", text="y")])
    with pytest.raises(IngestError, match="invalid record"):
        kb.ingest_records([{"id": "a"}])  # type: ignore[list-item]
    with pytest.raises(IngestError, match="record 'b'.*empty"):
        kb.ingest_records([Record(id="b", text="   ")])


def test_same_file_name_in_two_folders_gets_distinct_ids(kb_factory, tmp_path):
    kb = kb_factory(embedding=NO_ML)
    for sub, text in (("x", "Circoviruses infect pigs."), ("y", "Geminiviruses infect plants.")):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "notes.md").write_text(f"# Notes\n{text}")
    rep = kb.ingest_paths([tmp_path / "x", tmp_path / "y"])
    assert len(rep.added_docs) == 2 and rep.added_docs[0] == "notes" and rep.added_docs[1].startswith("notes-")
    again = kb.ingest_paths([tmp_path / "x", tmp_path / "y"])
    assert sorted(again.unchanged_docs) == sorted(rep.added_docs)


def test_interrupted_ingest_leaves_no_partial_document(kb_factory, monkeypatch):
    kb = kb_factory(embedding=NO_ML, ingest={"batch_chunks": 1})
    records = [Record(id=f"r{i}", text=f"Document {i} about circovirus replication, part {i}. " * 30) for i in range(4)]
    real = kb.store.upsert

    def flaky(points):
        if any(p.payload.get("doc_id") == "r2" for p in points):  # r2's write dies (after its delete)
            raise KeyboardInterrupt
        return real(points)

    monkeypatch.setattr(kb.store, "upsert", flaky)
    with pytest.raises(KeyboardInterrupt):
        kb.ingest_records(records)
    monkeypatch.setattr(kb.store, "upsert", real)
    assert [d.doc_id for d in kb.list_documents()] == ["r0", "r1"]
    facets = dict(kb.store.facet("doc_id", StoreFilter(match={"kind": ["chunk"]})))
    assert set(facets) == {"r0", "r1"}
    assert all(facets[d.doc_id] == d.chunks for d in kb.list_documents())
    rep = kb.ingest_records(records)
    assert rep.unchanged_docs == ["r0", "r1"] and rep.added_docs == ["r2", "r3"]


def test_killed_process_leaves_only_complete_documents(tmp_path):
    """A hard kill (SIGKILL-like os._exit) in the middle of an ingest: on reopen, every document present has
    its manifest and all its chunks, and nothing else is stored."""
    data = tmp_path / "data"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from tests.fixtures.kb import kb_settings
        from agent.kb import KnowledgeBase, Record
        kb = KnowledgeBase(kb_settings({str(data)!r}, embedding={{"multilingual": False}}, ingest={{"batch_chunks": 1}}))
        real = kb.store.upsert
        n = {{"calls": 0}}
        def upsert(points):
            n["calls"] += 1
            if n["calls"] == 4:
                os._exit(137)  # die hard, with no flush and no cleanup
            real(points)
        kb.store.upsert = upsert
        kb.ingest_records([Record(id=f"k{{i}}", text=f"Killed ingest document {{i}}. " * 40) for i in range(6)])
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 137, proc.stderr[-2000:]
    kb = KnowledgeBase(kb_settings(data, embedding=NO_ML))
    try:
        docs = kb.list_documents()
        assert [d.doc_id for d in docs] == ["k0", "k1"]  # the meta point was write 1, k0 write 2, k1 write 3
        facets = dict(kb.store.facet("doc_id", StoreFilter(match={"kind": ["chunk"]})))
        assert facets == {d.doc_id: d.chunks for d in docs}
        rep = kb.ingest_records([Record(id=f"k{i}", text=f"Killed ingest document {i}. " * 40) for i in range(6)])
        assert rep.unchanged_docs == ["k0", "k1"] and len(rep.added_docs) == 4
    finally:
        kb.close()


def test_concurrent_searches_from_threads(kb_factory, lib_copy):
    kb = kb_factory(paths=[lib_copy], embedding=NO_ML)
    expected = doc_ids(kb.search("Walker A motif binds ATP", k=3))
    errors: list[BaseException] = []
    results: list[list[str]] = []

    def worker():
        try:
            for q in ("Walker A motif binds ATP", "whiteflies transmit geminiviruses", "masked language model"):
                r = doc_ids(kb.search(q, k=3))
                if q.startswith("Walker"):
                    results.append(r)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == 8 and all(r == expected for r in results)


def test_models_load_once_per_process(kb_factory, embedder):
    a = kb_factory(embedding=NO_ML)
    b = kb_factory(embedding=NO_ML)
    assert a.embedder is b.embedder is embedder


def test_get_knowledge_base_is_one_per_data_dir(tmp_path):
    s = kb_settings(tmp_path / "d", embedding=NO_ML)
    kb1 = get_knowledge_base(s)
    assert get_knowledge_base(kb_settings(tmp_path / "d", embedding=NO_ML)) is kb1
    assert get_knowledge_base(kb_settings(tmp_path / "other", embedding=NO_ML)) is not kb1
    kb1.close()
    assert get_knowledge_base(s) is not kb1
    get_knowledge_base(s).close()
    get_knowledge_base(kb_settings(tmp_path / "other", embedding=NO_ML)).close()


def test_embedding_cache_is_used(kb_factory, lib_copy, monkeypatch, tmp_path):
    kb = kb_factory(paths=[lib_copy], embedding={"multilingual": False, "cache_dir": tmp_path / "own-cache"})
    n_cached = len(kb.cache)
    assert n_cached == kb.stats()["chunks"]
    kb.remove("geminivirus")
    monkeypatch.setattr(kb.embedder, "_encode", lambda *a, **k: pytest.fail("re-embedded a cached text"))
    rep = kb.ingest_paths([lib_copy / "geminivirus.md"])
    assert rep.added_docs == ["geminivirus"]
    assert len(kb.cache) == n_cached


def test_model_mismatch_is_a_clear_error(kb_factory, tmp_path):
    from agent.kb.errors import StoreConfigError

    kb = kb_factory(paths=[LIB / "circovirus.md"], embedding=NO_ML, data_dir=tmp_path / "d")
    kb.close()
    other = KnowledgeBase(kb_settings(tmp_path / "d", embedding={"multilingual": False, "model": "some/other-model"}))
    try:
        with pytest.raises(StoreConfigError, match="all-MiniLM-L6-v2"):
            other.search("pigs")
    finally:
        other.close()


def test_empty_knowledge_base_and_bad_queries(kb_factory):
    kb = kb_factory(embedding=NO_ML)
    assert kb.search("anything") == []
    assert kb.stats()["documents"] == 0 and kb.list_documents() == []
    with pytest.raises(DocumentNotFoundError):
        kb.remove("nothing")
    with pytest.raises(ValueError, match="empty"):
        kb.search("   ")
    with pytest.raises(ValueError, match="mode"):
        kb.search("x", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rerank"):
        kb.search("x", rerank=True)


def test_server_backend_end_to_end(kb_factory, lib_copy):
    """The qdrant-client backend (in-memory local mode standing in for a server) behind the same service."""
    kb = kb_factory(backend="memory", embedding={"multilingual": True})
    rep = kb.ingest_paths([lib_copy, KB_DATA / "records.jsonl"])
    assert len(rep.added_docs) == 8
    assert kb.stats()["backend"] == "qdrant-client"
    assert kb.search("Walker A motif binds ATP", k=1)[0].doc_id == "rep-motifs"
    assert kb.search("哪些昆虫会传播感染番茄和木薯的双生病毒？", k=1)[0].doc_id == "geminivirus"
    assert kb.ingest_paths([lib_copy]).chunks_written == 0
    assert kb.search("virus", k=20, filters=SearchFilters(source="metagenomics", year_min=2015))
    assert {h.year for h in kb.search("virus", k=20, filters=SearchFilters(source="metagenomics", year_min=2015))} == {2018, 2020}
    assert kb.remove("rec:smaco") == 1
    assert not kb.has_document("rec:smaco")
