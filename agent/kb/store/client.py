"""Server/cluster backend: qdrant-client against a Qdrant URL (or its local mode: ``:memory:`` / a path,
which the tests and the benchmark use as the server's stand-in)."""

from __future__ import annotations

import threading
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client import models as qm

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


def _vec(v: Vector):
    if isinstance(v, SparseVec):
        return qm.SparseVector(indices=list(v.indices), values=list(v.values))
    return [float(x) for x in v]


def _filter(flt: StoreFilter | None) -> qm.Filter | None:
    if flt is None or flt.is_empty():
        return None
    must: list = []
    for key, values in flt.match.items():
        values = list(values)
        if len(values) == 1:
            must.append(qm.FieldCondition(key=key, match=qm.MatchValue(value=values[0])))
        else:
            must.append(qm.FieldCondition(key=key, match=qm.MatchAny(any=values)))
    for key, (lo, hi) in flt.ranges.items():
        must.append(qm.FieldCondition(key=key, range=qm.Range(gte=lo, lte=hi)))
    for key, values in flt.match_or_missing.items():
        must.append(qm.Filter(should=[qm.FieldCondition(key=key, match=qm.MatchAny(any=list(values))),
                                      qm.IsEmptyCondition(is_empty=qm.PayloadField(key=key))]))
    must_not: list = [qm.FieldCondition(key=k, match=qm.MatchAny(any=list(v))) for k, v in flt.exclude.items()]
    if flt.missing_vector:
        must_not.append(qm.HasVectorCondition(has_vector=flt.missing_vector))
    return qm.Filter(must=must or None, must_not=must_not or None)


class ClientStore:
    backend = "qdrant-client"

    def __init__(
        self,
        url: str,
        collection: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        shard_number: int | None = None,
        replication_factor: int | None = None,
        write_consistency_factor: int | None = None,
        hnsw_m: int = 16,
        hnsw_ef_construct: int = 100,
        hnsw_ef: int = 128,
    ):
        self.collection = collection
        self.location = url
        if url == ":memory:":
            self.client = QdrantClient(location=":memory:")
        elif url.startswith(("http://", "https://")):
            self.client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout_s))
        else:  # a local path: qdrant-client's local mode on disk
            self.client = QdrantClient(path=url.removeprefix("path:"))
        self._local = url == ":memory:" or not url.startswith(("http://", "https://"))
        # Local mode is pure Python and not thread-safe; a real server is.
        self._lock = threading.RLock() if self._local else _NoLock()
        self._create_kw = dict(
            shard_number=shard_number,
            replication_factor=replication_factor,
            write_consistency_factor=write_consistency_factor,
        )
        self.hnsw_m, self.hnsw_ef_construct, self.hnsw_ef = hnsw_m, hnsw_ef_construct, hnsw_ef
        self._exists = False

    def exists(self) -> bool:
        if not self._exists:
            with self._lock:
                self._exists = self.client.collection_exists(self.collection)
        return self._exists

    def create(self, dense_dims: dict[str, int]) -> None:
        with self._lock:
            if self.client.collection_exists(self.collection):
                self._exists = True
                return
            self.client.create_collection(
                self.collection,
                vectors_config={n: qm.VectorParams(size=d, distance=qm.Distance.COSINE) for n, d in dense_dims.items()},
                sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
                hnsw_config=qm.HnswConfigDiff(m=self.hnsw_m, ef_construct=self.hnsw_ef_construct),
                **{k: v for k, v in self._create_kw.items() if v is not None},
            )
            if not self._local:  # local mode has no payload indexes (it warns); a server builds them
                for key in INDEXED_KEYWORDS:
                    self.client.create_payload_index(self.collection, key, qm.PayloadSchemaType.KEYWORD)
                for key in INDEXED_INTEGERS:
                    self.client.create_payload_index(self.collection, key, qm.PayloadSchemaType.INTEGER)
            self._exists = True

    def drop(self) -> None:
        with self._lock:
            if self.client.collection_exists(self.collection):
                self.client.delete_collection(self.collection)
            self._exists = False

    def vector_dims(self) -> dict[str, int]:
        with self._lock:
            info = self.client.get_collection(self.collection)
        vecs = info.config.params.vectors
        if isinstance(vecs, dict):
            return {k: v.size for k, v in vecs.items()}
        return {"": vecs.size} if vecs is not None else {}

    def close(self) -> None:
        with self._lock:
            self.client.close()

    def flush(self) -> None:  # writes are acknowledged with wait=True
        pass

    def optimize(self) -> None:  # the server optimises in the background
        pass

    def upsert(self, points: list[PointData]) -> None:
        if not points:
            return
        pts = [qm.PointStruct(id=p.id, vector={k: _vec(v) for k, v in p.vectors.items()}, payload=p.payload) for p in points]
        with self._lock:
            self.client.upsert(self.collection, points=pts, wait=True)

    def delete(self, flt: StoreFilter) -> None:
        f = _filter(flt)
        if f is None:
            raise ValueError("refusing to delete with an empty filter")
        with self._lock:
            self.client.delete(self.collection, points_selector=qm.FilterSelector(filter=f), wait=True)

    def update_vectors(self, items: list[tuple[str, dict[str, Vector]]]) -> None:
        if not items:
            return
        pv = [qm.PointVectors(id=pid, vector={k: _vec(v) for k, v in vecs.items()}) for pid, vecs in items]
        with self._lock:
            self.client.update_vectors(self.collection, points=pv, wait=True)

    def count(self, flt: StoreFilter | None = None) -> int:
        if not self.exists():
            return 0
        with self._lock:
            return int(self.client.count(self.collection, count_filter=_filter(flt), exact=True).count)

    def scroll(self, flt, limit, offset=None, with_vectors=False):
        with self._lock:
            recs, nxt = self.client.scroll(
                self.collection, scroll_filter=_filter(flt), limit=limit, offset=offset, with_payload=True,
                with_vectors=with_vectors,
            )
        out = [StoredRecord(str(r.id), dict(r.payload or {}), vectors_dict(r.vector) if with_vectors else None) for r in recs]
        return out, (None if nxt is None else str(nxt))

    def retrieve(self, ids, with_vectors=False):
        if not ids:
            return []
        with self._lock:
            recs = self.client.retrieve(self.collection, ids=list(ids), with_payload=True, with_vectors=with_vectors)
        return [StoredRecord(str(r.id), dict(r.payload or {}), vectors_dict(r.vector) if with_vectors else None) for r in recs]

    def facet(self, key, flt=None, limit=100_000):
        if not self.exists():
            return []
        with self._lock:
            resp = self.client.facet(self.collection, key=key, facet_filter=_filter(flt), limit=limit, exact=True)
        return [(h.value, int(h.count)) for h in resp.hits]

    def query(self, routes: list[Route], limit, flt=None, rrf_k=60, route_scores=True, fusion="rrf"):
        f = _filter(flt)
        params = qm.SearchParams(hnsw_ef=max(self.hnsw_ef, limit))
        reqs: list[qm.QueryRequest] = []
        dbsf = len(routes) > 1 and fusion == "dbsf"  # weighted, so fused here from each route's own results
        if len(routes) == 1:
            r = routes[0]
            reqs.append(qm.QueryRequest(query=_vec(r.vector), using=r.using, limit=limit, filter=f, params=params, with_payload=True))
        elif not dbsf:
            prefetch = [qm.Prefetch(query=_vec(r.vector), using=r.using, limit=r.limit, filter=f, params=params) for r in routes]
            weights = [r.weight for r in routes]
            rrf = qm.Rrf(k=rrf_k, weights=None if len(set(weights)) == 1 else weights)
            reqs.append(qm.QueryRequest(prefetch=prefetch, query=qm.RrfQuery(rrf=rrf), limit=limit, filter=f, with_payload=True))
        if dbsf or (len(routes) > 1 and route_scores):  # one query per route
            for r in routes:
                reqs.append(qm.QueryRequest(query=_vec(r.vector), using=r.using, limit=r.limit, filter=f, params=params, with_payload=dbsf))
        with self._lock:
            results = [res.points for res in self.client.query_batch_points(self.collection, requests=reqs)]
        return fuse_dbsf(routes, results, limit) if dbsf else collect_results(routes, results, route_scores)


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
