"""The write path of ingest: chunks of a batch of documents -> vectors -> points -> store writes.

How a document is replaced, and what a crash leaves behind (qdrant-edge and qdrant-client have no
delete + upsert in one atomic operation, so this order is used instead):

1. its new passages and, after them, its manifest are upserted: one store update per document (documents of a
   batch share updates; a document with more than ``MAX_POINTS_PER_WRITE`` points is written in several,
   the manifest in the last one). Each passage carries ``doc_version`` (a hash of the document id, its content
   hash and the index fingerprint); passages whose text did not change keep their id and are overwritten.
2. then the passages of the document's other versions are deleted (one delete per batch, by filter: this
   document id, not this version).

A crash before the manifest's write leaves the old manifest (or none): the document is still listed as its old
version (or not at all) and the next ingest replaces it completely; passages of the unfinished write may be
searchable until then, beside the old version's. A crash between 1 and 2 leaves the new version complete
plus stale passages of the old one, which the next ingest of the document deletes (``kb stats`` counts such
documents as ``incomplete_documents``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from typing import Any

from agent.kb.fingerprint import document_settings, fingerprint
from agent.kb.loaders import LoadedDocument, Section
from agent.kb.models import IngestReport
from agent.kb.store import DENSE, MDENSE, SPARSE, PointData, StoreFilter

NS = uuid.UUID("6f1c1a52-58a4-4c55-9a53-0c6a3d0f2b11")
MAX_POINTS_PER_WRITE = 1024
MISSING_ML = StoreFilter(match={"kind": ["chunk"]}, missing_vector=MDENSE)  # passages still without mdense


def chunk_id(doc_id: str, text: str) -> str:
    """Content-derived point id: the same document text always maps to the same ids."""
    return str(uuid.uuid5(NS, f"{doc_id}\x00{hashlib.sha256(text.encode('utf-8')).hexdigest()}"))


def manifest_id(doc_id: str) -> str:
    return str(uuid.uuid5(NS, f"manifest\x00{doc_id}"))


def doc_version(doc_id: str, doc_hash: str, fp: str) -> str:
    return hashlib.sha256(f"{doc_id}\x00{doc_hash}\x00{fp}".encode()).hexdigest()[:16]


def sections_payload(doc: LoadedDocument) -> list[dict[str, Any]] | None:
    """A document without a file (a record) keeps its sections in the manifest, so --reindex can rebuild it."""
    if doc.path and not doc.path.lower().endswith((".jsonl", ".ndjson")):
        return None
    return [dataclasses.asdict(s) for s in doc.sections]


def document_from_manifest(man: dict[str, Any]) -> LoadedDocument | None:
    """The document as its manifest recorded it (records only), or None."""
    secs = man.get("sections")
    if not secs:
        return None
    return LoadedDocument(
        doc_id=man["doc_id"], title=man.get("title") or "", sections=[Section(**s) for s in secs],
        source=man.get("source"), year=man.get("year"), doi=man.get("doi"), pmid=man.get("pmid"), url=man.get("url"),
        path=man.get("path"), metadata=man.get("metadata") or {},
    )


def write_batch(kb, batch: list[tuple[LoadedDocument, str, list, dict | None]], report: IngestReport) -> None:
    """Embed and write a batch of (document, content hash, chunks, old manifest or None)."""
    doc_set = document_settings(kb.settings)
    fp = fingerprint(doc_set)
    texts = [kb._embed_text(doc, c.text) for doc, _h, chunks, _m in batch for c in chunks]
    dense = kb.embedder.encode_documents(texts, cache=kb.cache)
    sparse = [kb.sparse.encode_document(t) for t in texts]
    i = 0
    now = time.time()
    writes: list[list[PointData]] = [[]]
    replaced: dict[str, str] = {}
    for doc, h, chunks, man in batch:
        points: list[PointData] = []
        version = doc_version(doc.doc_id, h, fp)
        base = {
            "doc_id": doc.doc_id, "title": doc.title, "source": doc.source, "year": doc.year, "doi": doc.doi,
            "pmid": doc.pmid, "url": doc.url, **({"owner": doc.owner} if doc.owner else {}),
        }
        for c in chunks:
            payload = {  # reference-list entries: chunk_kind "reference", excluded from evidence by the search filter
                "kind": "chunk", **base, "page": c.page, "section": c.section, "chunk_index": c.index,
                "text": c.text, "doc_hash": h, "doc_version": version, "chunk_kind": c.kind,
            }
            vectors: dict[str, Any] = {DENSE: dense[i].tolist()}
            if sparse[i]:
                vectors[SPARSE] = sparse[i]
            points.append(PointData(chunk_id(doc.doc_id, c.text), vectors, payload))
            i += 1
        manifest = {
            "kind": "doc", **base, "doc_hash": h, "doc_version": version, "fp": fp, "index": doc_set,
            "chunks": len(chunks), "path": doc.path, "ingested_at": now, "metadata": doc.metadata,
        }
        secs = sections_payload(doc)
        if secs is not None:
            manifest["sections"] = secs
        points.append(PointData(manifest_id(doc.doc_id), {}, manifest))  # after its passages
        if writes[-1] and len(writes[-1]) + len(points) > MAX_POINTS_PER_WRITE:
            writes.append([])
        for start in range(0, len(points), MAX_POINTS_PER_WRITE):  # only a very large document is split
            if start:
                writes.append([])
            writes[-1].extend(points[start : start + MAX_POINTS_PER_WRITE])
        if man is not None:
            replaced[doc.doc_id] = version
        (report.replaced_docs if man else report.added_docs).append(doc.doc_id)
        report.chunks_written += len(chunks)
    for points in writes:
        kb.store.upsert(points)
    if replaced:
        delete_other_versions(kb.store, replaced)


def delete_other_versions(store, versions: dict[str, str]) -> None:
    """Delete the passages of these documents that belong to another version than the given one."""
    store.delete(StoreFilter(match={"kind": ["chunk"], "doc_id": list(versions)},
                             exclude={"doc_version": list(versions.values())}))
