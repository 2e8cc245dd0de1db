"""Is the index true to its settings, and rebuilding what is not (``bioagent kb stats``, ``ingest --reindex``).

A document is *stale* when its manifest's fingerprint differs from the current settings' (or it has none: built
before fingerprints), *incomplete* when its stored passages do not match its manifest (a write that died
half-way). ``reindex`` rebuilds stale and incomplete documents from their source: the file the manifest names,
or the sections a record's manifest keeps. When the dense or multilingual model changed, the collection itself
is re-created (after every document's source has been read, so nothing is dropped that cannot be rebuilt).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agent.kb.errors import IngestError, StoreConfigError
from agent.kb.fingerprint import (
    collection_settings,
    describe,
    document_settings,
    fingerprint,
    needs_rebuild,
)
from agent.kb.loaders import LoadedDocument, load_file
from agent.kb.models import IngestReport
from agent.kb.store import StoreFilter
from agent.kb.writer import document_from_manifest


def manifests(kb) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset = None
    while True:
        recs, offset = kb.store.scroll(StoreFilter(match={"kind": ["doc"]}), limit=256, offset=offset)
        out.extend(r.payload for r in recs)
        if offset is None:
            return out


def _outdated(kb) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(all manifests, stale ones, incomplete ones)."""
    fp = fingerprint(document_settings(kb.settings))
    mans = manifests(kb)
    counts = dict(kb.store.facet("doc_id", StoreFilter(match={"kind": ["chunk"]})))
    stale = [m for m in mans if m.get("fp") != fp]
    incomplete = [m for m in mans if m.get("fp") == fp and counts.get(m["doc_id"], 0) != int(m.get("chunks", 0))]
    return mans, stale, incomplete


def index_status(kb) -> dict[str, Any]:
    """What ``kb stats`` shows about the index settings: the current fingerprint, the settings that changed
    since the collection was built (old -> new), and how many documents are stale or incomplete."""
    diffs = kb.index_changes()
    _mans, stale, incomplete = _outdated(kb)
    out: dict[str, Any] = {
        "index_fingerprint": fingerprint(collection_settings(kb.settings)),
        "index_changes": describe(diffs) or "none",
        "stale_documents": len(stale),
        "incomplete_documents": len(incomplete),
    }
    if needs_rebuild(diffs) or stale or incomplete:
        out["reindex"] = ("the collection must be rebuilt: `bioagent ingest --reindex`" if needs_rebuild(diffs)
                          else "`bioagent ingest --reindex` rebuilds the stale documents")
    return out


def source_document(man: dict[str, Any], max_bytes: int, pdf_extractor: str = "layout") -> LoadedDocument | None:
    """The document a manifest was built from, read again from its source (None: no source left); it keeps its
    owner (a user's upload stays that user's)."""
    doc = document_from_manifest(man)
    if doc is None:
        doc = _from_file(man, max_bytes, pdf_extractor)
    if doc is not None and man.get("owner"):
        doc.owner = man["owner"]
    return doc


def _from_file(man: dict[str, Any], max_bytes: int, pdf_extractor: str) -> LoadedDocument | None:
    path = man.get("path")
    if not path or not Path(path).is_file():
        return None
    try:
        docs = load_file(Path(path), max_bytes, pdf_extractor)
    except IngestError:
        return None
    if len(docs) == 1:
        docs[0].doc_id = man["doc_id"]  # a file's id may carry a suffix that tells same-named files apart
        return docs[0]
    return next((d for d in docs if d.doc_id == man["doc_id"]), None)


def reindex(kb, progress: bool = False) -> IngestReport:
    """Rebuild stale and incomplete documents (every document, in a re-created collection, when the dense or
    multilingual model changed). Documents without a source left are listed in ``report.not_rebuilt``."""
    t0 = time.perf_counter()
    report = IngestReport()
    if not kb.store.exists() or kb._read_meta() is None:
        return report
    max_bytes = int(kb.settings.ingest.max_file_mb * 2**20)
    with kb._write_lock:
        diffs = kb.index_changes()
        rebuild = needs_rebuild(diffs)
        mans, stale, incomplete = _outdated(kb)
        targets = mans if rebuild else stale + incomplete
        docs: list[LoadedDocument] = []
        for man in targets:
            doc = source_document(man, max_bytes, kb.settings.ingest.pdf_extractor)
            if doc is None:
                report.not_rebuilt.append(man["doc_id"])
            else:
                docs.append(doc)
        if rebuild:
            if report.not_rebuilt:
                few = ", ".join(report.not_rebuilt[:5]) + (" ..." if len(report.not_rebuilt) > 5 else "")
                raise StoreConfigError(
                    f"the collection must be re-created ({describe(diffs)}), but {len(report.not_rebuilt)} documents "
                    f"have no source left to rebuild them from ({few}): restore their files, or use another "
                    "collection (BIOAGENT_QDRANT__COLLECTION)"
                )
            kb.store.drop()
            kb._meta = None
        for doc in docs:  # rebuilt even where the text is unchanged: the manifest's fingerprint is old
            man = kb._manifest(doc.doc_id) if not rebuild else None
            if man is not None and man.get("fp") == fingerprint(document_settings(kb.settings)):
                kb.store.delete(StoreFilter(match={"doc_id": [doc.doc_id]}))  # incomplete: write it again whole
        kb._ingest(iter(docs), report, progress, total=len(docs))
        report.reindexed_docs = [d.doc_id for d in docs]
        if not report.not_rebuilt and not rebuild:
            meta = dict(kb._read_meta() or {})
            index = collection_settings(kb.settings)
            meta.update(index=index, fp=fingerprint(index), sparse=index["sparse"])
            kb._write_meta(meta)
            kb.store.flush()
    report.seconds = time.perf_counter() - t0
    return report
