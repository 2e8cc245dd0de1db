"""Embedded backend: Qdrant Edge (qdrant-edge-py), an in-process shard on disk with a WAL, HNSW, sparse
vectors with the IDF modifier, payload indexes and prefetch + RRF fusion queries."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from agent.kb.store.base import (
    INDEXED_INTEGERS,
    INDEXED_KEYWORDS,
    SPARSE,
    PointData,
    Route,
    StoredRecord,
    StoreFilter,
    Vector,
    collect_results,
    fuse_dbsf,
    vectors_dict,
)
from agent.kb.text import SparseVec

log = logging.getLogger(__name__)


def _vec(v: Vector):
    if isinstance(v, SparseVec):
        return qe.SparseVector(list(v.indices), list(v.values))
    return [float(x) for x in v]


def _filter(flt: StoreFilter | None) -> qe.Filter | None:
    if flt is None or flt.is_empty():
        return None
    must: list = []
    must_not: list = []
    for key, values in flt.match.items():
        values = list(values)
        if len(values) == 1:
            must.append(qe.FieldCondition(key, match=qe.MatchValue(values[0])))
        else:
            must.append(qe.FieldCondition(key, match=qe.MatchAny(values)))
    for key, (lo, hi) in flt.ranges.items():
        must.append(qe.FieldCondition(key, range=qe.RangeFloat(gte=lo, lte=hi)))
    for key, values in flt.match_or_missing.items():
        must.append(qe.Filter(should=[qe.FieldCondition(key, match=qe.MatchAny(list(values))), qe.IsEmptyCondition(key)]))
    for key, values in flt.exclude.items():
        must_not.append(qe.FieldCondition(key, match=qe.MatchAny(list(values))))
    if flt.missing_vector:
        must_not.append(qe.HasVectorCondition(flt.missing_vector))
    return qe.Filter(must=must or None, must_not=must_not or None)


def _id(pid: Any) -> str:
    return str(pid)


class EdgeStore:
    backend = "qdrant-edge"

    def __init__(self, path: Path, hnsw_m: int = 16, hnsw_ef_construct: int = 100, hnsw_ef: int = 128):
        self.path = Path(path)
        self.location = str(self.path)
        self.hnsw_m, self.hnsw_ef_construct, self.hnsw_ef = hnsw_m, hnsw_ef_construct, hnsw_ef
        self._shard: qe.EdgeShard | None = None
        self._write_lock = threading.Lock()
        self._open_lock = threading.Lock()

    # -------------------------------------------------------------------------------------------- lifecycle
    def _has_data(self) -> bool:
        return self.path.is_dir() and any(self.path.iterdir())

    def exists(self) -> bool:
        return self._shard is not None or self._has_data()

    @property
    def shard(self) -> qe.EdgeShard:
        if self._shard is None:
            with self._open_lock:
                if self._shard is None:
                    if not self._has_data():
                        raise RuntimeError("the collection does not exist yet")
                    self._shard = qe.EdgeShard.load(str(self.path))
        return self._shard

    def create(self, dense_dims: dict[str, int]) -> None:
        with self._open_lock:
            if self._shard is not None or self._has_data():
                return
            self.path.mkdir(parents=True, exist_ok=True)
            config = qe.EdgeConfig(
                vectors={name: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine) for name, dim in dense_dims.items()},
                sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
                hnsw_config=qe.HnswIndexConfig(m=self.hnsw_m, ef_construct=self.hnsw_ef_construct, full_scan_threshold=10_000),
            )
            shard = qe.EdgeShard.create(str(self.path), config)
            for key in INDEXED_KEYWORDS:
                shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
            for key in INDEXED_INTEGERS:
                shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Integer))
            shard.flush()
            self._shard = shard

    def drop(self) -> None:
        """Delete the collection and its files (the next write re-creates it)."""
        import shutil

        with self._open_lock:
            if self._shard is not None:
                self._shard.close()
                self._shard = None
            if self.path.exists():
                shutil.rmtree(self.path)

    def vector_dims(self) -> dict[str, int]:
        # The shard keeps its config on disk; read it back through a retrieve-free path: the config file.
        import json

        for name in ("edge_config.json", "config.json"):
            f = self.path / name
            if f.exists():
                try:
                    cfg = json.loads(f.read_text())
                    vecs = cfg.get("vectors") or cfg.get("vector_data") or {}
                    return {k: int(v.get("size")) for k, v in vecs.items() if isinstance(v, dict) and v.get("size")}
                except Exception:  # pragma: no cover - layout of a future version
                    pass
        return {}

    # One shard object per directory per process: several KnowledgeBase objects on the same data dir share it.
    _shared: dict[str, "EdgeStore"] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def acquire(cls, path: Path, **kw) -> "EdgeStore":
        key = str(Path(path).resolve())
        with cls._shared_lock:
            st = cls._shared.get(key)
            if st is None:
                st = cls(path, **kw)
                st._refs = 0
                cls._shared[key] = st
            st._refs += 1
            return st

    def close(self) -> None:
        with self._shared_lock:
            refs = getattr(self, "_refs", 1) - 1
            self._refs = refs
            if refs > 0:
                return
            self._shared.pop(str(self.path.resolve()), None)
        with self._open_lock:
            if self._shard is not None:
                try:
                    self._shard.flush()
                finally:
                    self._shard.close()
                    self._shard = None

    def flush(self) -> None:
        if self._shard is not None:
            self._shard.flush()

    def optimize(self) -> None:
        with self._write_lock:
            self.shard.optimize()

    # --------------------------------------------------------------------------------------------- writes
    def upsert(self, points: list[PointData]) -> None:
        if not points:
            return
        pts = [qe.Point(p.id, {k: _vec(v) for k, v in p.vectors.items()}, p.payload) for p in points]
        with self._write_lock:
            self.shard.update(qe.UpdateOperation.upsert_points(pts))

    def delete(self, flt: StoreFilter) -> None:
        f = _filter(flt)
        if f is None:
            raise ValueError("refusing to delete with an empty filter")
        with self._write_lock:
            self.shard.update(qe.UpdateOperation.delete_points_by_filter(f))

    def update_vectors(self, items: list[tuple[str, dict[str, Vector]]]) -> None:
        if not items:
            return
        pv = [qe.PointVectors(pid, {k: _vec(v) for k, v in vecs.items()}) for pid, vecs in items]
        with self._write_lock:
            self.shard.update(qe.UpdateOperation.update_vectors(pv))

    # ---------------------------------------------------------------------------------------------- reads
    def count(self, flt: StoreFilter | None = None) -> int:
        if not self.exists():
            return 0
        return int(self.shard.count(qe.CountRequest(exact=True, filter=_filter(flt))))

    def scroll(self, flt, limit, offset=None, with_vectors=False):
        recs, nxt = self.shard.scroll(
            qe.ScrollRequest(offset=offset, limit=limit, filter=_filter(flt), with_payload=True, with_vector=with_vectors)
        )
        out = [StoredRecord(_id(r.id), dict(r.payload or {}), vectors_dict(r.vector) if with_vectors else None) for r in recs]
        return out, (None if nxt is None else _id(nxt))

    def retrieve(self, ids, with_vectors=False):
        if not ids:
            return []
        recs = self.shard.retrieve(list(ids), with_payload=True, with_vector=with_vectors)
        return [StoredRecord(_id(r.id), dict(r.payload or {}), vectors_dict(r.vector) if with_vectors else None) for r in recs]

    def facet(self, key, flt=None, limit=100_000):
        if not self.exists():
            return []
        resp = self.shard.facet(qe.FacetRequest(key=key, limit=limit, exact=True, filter=_filter(flt)))
        return [(h.value, int(h.count)) for h in resp]

    def _nearest(self, r: Route):
        return qe.Query.Nearest(_vec(r.vector), using=r.using)

    def query(self, routes, limit, flt=None, rrf_k=60, route_scores=True, fusion="rrf"):
        f = _filter(flt)
        params = qe.SearchParams(hnsw_ef=max(self.hnsw_ef, limit))
        reqs = []
        dbsf = len(routes) > 1 and fusion == "dbsf"  # weighted, so fused here from each route's own results
        if len(routes) == 1:
            r = routes[0]
            reqs.append(qe.QueryRequest(limit=limit, query=self._nearest(r), filter=f, with_payload=True, params=params))
        elif not dbsf:
            prefetches = [qe.Prefetch(limit=r.limit, query=self._nearest(r), filter=f, params=params) for r in routes]
            weights = [r.weight for r in routes]
            rrf = qe.Fusion.Rrf(k=rrf_k, weights=None if len(set(weights)) == 1 else weights)
            reqs.append(qe.QueryRequest(limit=limit, prefetches=prefetches, query=rrf, filter=f, with_payload=True))
        if dbsf or (len(routes) > 1 and route_scores):  # one query per route
            for r in routes:
                reqs.append(qe.QueryRequest(limit=r.limit, query=self._nearest(r), filter=f, with_payload=dbsf, params=params))
        results = self.shard.query_batch(qe.QueryBatchRequest(reqs)) if len(reqs) > 1 else [self.shard.query(reqs[0])]
        return fuse_dbsf(routes, results, limit) if dbsf else collect_results(routes, results, route_scores)


