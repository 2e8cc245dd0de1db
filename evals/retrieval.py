"""Retrieval suite: rank documents for each question by every search route and score them against gold ids.

Routes: ``dense``, ``sparse``, ``hybrid`` (both, fused as the search fuses them), ``rerank`` (hybrid +
cross-encoder; only when a rerank model is set) through the knowledge base, plus ``bm25``: rank_bm25's BM25Okapi over whole documents as the
in-run baseline. Chunk hits are turned into a document ranking by keeping each document's first hit.

The documents come from the dataset (PubMedQA abstracts, inline QA documents) or a corpus file and are indexed
in a collection of their own (``eval-<dataset>-<hash>``, in the configured store), which later runs reuse: the
hash covers the documents, the embedding model and the chunking settings. Without documents the configured
collection is searched as it is (its document ids must be the gold ids).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.kb.models import Record
from agent.settings import Settings
from evals.configs import apply_settings
from evals.metrics import dedupe, mean, ndcg_at_k, recall_at_k, reciprocal_rank, summarize

log = logging.getLogger(__name__)

KB_ROUTES = ("dense", "sparse", "hybrid", "rerank")
ALL_ROUTES = ("bm25", *KB_ROUTES)
DEFAULT_KS = (1, 5, 10)
NDCG_K = 10


def collection_name(dataset_name: str, documents: Sequence[Record], settings: Settings) -> str:
    """A collection name that changes when the documents, the embedding model or the chunking change."""
    h = hashlib.sha256()
    for part in (settings.embedding.model, settings.embedding.multilingual, settings.embedding.multilingual_model,
                 settings.chunking.model_dump_json()):
        h.update(str(part).encode())
    for rec in sorted(documents, key=lambda r: r.id):
        h.update(rec.id.encode() + b"\x00" + rec.title.encode() + b"\x00" + rec.text.encode() + b"\x01")
    slug = re.sub(r"[^a-z0-9]+", "-", dataset_name.lower()).strip("-")[:40] or "dataset"
    return f"eval-{slug}-{h.hexdigest()[:12]}"


def index_settings(settings: Settings, dataset_name: str, documents: Sequence[Record],
                   languages: Sequence[str] = ("en",)) -> Settings:
    """Settings of the dataset's own collection. The multilingual vectors are only built when a question is
    not English (they serve non-English queries only)."""
    changes: dict[str, Any] = {}
    if settings.embedding.multilingual and all(lang == "en" for lang in languages):
        changes["embedding"] = {"multilingual": False}
    s = apply_settings(settings, changes) if changes else settings
    return apply_settings(s, {"qdrant": {"collection": collection_name(dataset_name, documents, s)}})


def open_index(settings: Settings, documents: Sequence[Record], progress: bool = False):
    """The knowledge base for these settings with the documents ingested (unchanged documents are skipped)."""
    from agent.kb import get_knowledge_base

    kb = get_knowledge_base(settings)
    if documents:
        t0 = time.perf_counter()
        report = kb.ingest_records(list(documents), progress=progress)
        if report.errors:
            raise RuntimeError("indexing the evaluation documents failed: " + "; ".join(report.errors[:3]))
        log.info("eval index %s: %d added, %d unchanged, %d chunks written in %.1f s", settings.qdrant.collection,
                 len(report.added_docs), len(report.unchanged_docs), report.chunks_written, time.perf_counter() - t0)
        kb.backfill_multilingual(progress=progress)  # the lazy phase, before any non-English question is asked
    return kb


class BM25Baseline:
    """rank_bm25's BM25Okapi over whole documents (title + text), tokenised like the sparse route."""

    def __init__(self, documents: Sequence[Record]):
        try:
            from rank_bm25 import BM25Okapi
        except ImportError as exc:  # pragma: no cover - rank-bm25 is a dependency of the evals
            raise RuntimeError("the BM25 baseline needs the rank-bm25 package (pip install rank-bm25)") from exc
        from agent.kb.text import tokenize

        self._tokenize = tokenize
        self.ids = [d.id for d in documents]
        self.bm25 = BM25Okapi([tokenize(f"{d.title}\n{d.text}") or ["\x00"] for d in documents])

    def rank(self, query: str, k: int) -> list[str]:
        import numpy as np

        scores = self.bm25.get_scores(self._tokenize(query))
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in top if scores[i] > 0]


@dataclass
class RouteRanker:
    name: str
    rank: Callable[[str], list[str]]


def rankers(kb, documents: Sequence[Record], settings: Settings, depth: int,
            routes: Sequence[str] = ALL_ROUTES) -> tuple[list[RouteRanker], dict[str, str]]:
    """The rankers to run and, for routes left out, why."""
    out: list[RouteRanker] = []
    skipped: dict[str, str] = {}
    chunk_k = min(200, depth * 4)  # chunks fetched so that ``depth`` distinct documents usually remain

    def kb_route(mode: str, rerank: bool) -> Callable[[str], list[str]]:
        def rank(q: str) -> list[str]:
            hits = kb.search(q, k=chunk_k, mode=mode, rerank=rerank)
            return dedupe(h.doc_id for h in hits)[:depth]
        return rank

    for route in routes:
        if route not in ALL_ROUTES:
            raise ValueError(f"unknown route {route!r} ({', '.join(ALL_ROUTES)})")
        if route == "bm25":
            if not documents:
                skipped[route] = "no dataset documents to build the baseline from"
                continue
            try:
                baseline = BM25Baseline(documents)
            except RuntimeError as exc:
                skipped[route] = str(exc)
                continue
            out.append(RouteRanker("bm25", lambda q, b=baseline: b.rank(q, depth)))
        elif route == "rerank":
            if not settings.retrieval.rerank_model:
                skipped[route] = "no rerank model set (BIOAGENT_RETRIEVAL__RERANK_MODEL)"
                continue
            out.append(RouteRanker("rerank", kb_route("hybrid", True)))
        else:
            out.append(RouteRanker(route, kb_route(route, False)))
    return out, skipped


def score_ranking(ranked: Sequence[str], gold: Sequence[str], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    out = {f"recall@{k}": recall_at_k(ranked, gold, k) for k in ks}
    out["mrr"] = reciprocal_rank(ranked, gold)
    out[f"ndcg@{NDCG_K}"] = ndcg_at_k(ranked, gold, NDCG_K)
    return out


def run_retrieval(items: Sequence[Any], kb, documents: Sequence[Record], settings: Settings,
                  routes: Sequence[str] = ALL_ROUTES, ks: Sequence[int] = DEFAULT_KS,
                  progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Score every route on the items that have gold documents; returns metrics per route and per item."""
    scored = [it for it in items if getattr(it, "gold_doc_ids", None)]
    depth = max(max(ks), NDCG_K)
    route_list, skipped = rankers(kb, documents, settings, depth, routes)
    per_item: list[dict[str, Any]] = []
    values: dict[str, dict[str, list[float]]] = {r.name: {} for r in route_list}
    latency: dict[str, list[float]] = {r.name: [] for r in route_list}
    errors: dict[str, list[str]] = {}
    for it in scored:
        row: dict[str, Any] = {"id": it.id, "gold": list(it.gold_doc_ids), "routes": {}}
        for r in route_list:
            t0 = time.perf_counter()
            try:
                ranked = r.rank(it.question)
            except Exception as exc:  # noqa: BLE001 - a failing route is reported, the others go on
                errors.setdefault(r.name, []).append(f"{it.id}: {type(exc).__name__}: {exc}")
                continue
            latency[r.name].append((time.perf_counter() - t0) * 1000)
            m = score_ranking(ranked, it.gold_doc_ids, ks)
            for key, v in m.items():
                values[r.name].setdefault(key, []).append(v)
            row["routes"][r.name] = {"top": ranked[:max(ks)], **m}
        per_item.append(row)
        if progress:
            progress(1)
    metrics: dict[str, dict[str, Any]] = {}
    for r in route_list:
        metrics[r.name] = {key: mean(vals) for key, vals in values[r.name].items()}
        metrics[r.name]["queries"] = len(latency[r.name])
        metrics[r.name]["latency_ms"] = summarize(latency[r.name])
        if r.name in errors:
            metrics[r.name]["errors"] = len(errors[r.name])
    return {
        "metrics": metrics,
        "skipped_routes": skipped,
        "errors": {k: v[:20] for k, v in errors.items()},
        "scored_items": len(scored),
        "unscored_items": len(items) - len(scored),
        "ks": list(ks),
        "items": per_item,
    }
