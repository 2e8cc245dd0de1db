"""The index fingerprint: the settings that decide what a stored passage is (its text, its vectors, its sparse
weights). It is stored with the collection (meta point) and with each document (manifest), so that a change of
settings is detected instead of silently mixing passages built two ways.

- document level: embedding model, chunker version, chunk size, overlap, title-in-embedding, sparse scheme (tokenizer and
  stemmer version) and the BM25 parameters. A document whose fingerprint differs is stale: re-ingesting it (or
  ``bioagent ingest --reindex``) rebuilds it even when its text is unchanged.
- collection level: the same plus the multilingual model (or off). A different dense or multilingual model
  means vectors of another space (or size): the whole collection must be rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agent.kb.chunking import CHUNKER_VERSION
from agent.kb.text import TOKENIZER_VERSION

SPARSE_SCHEME = f"bm25-blake2b31-{TOKENIZER_VERSION}"
NOT_RECORDED = "(not recorded)"

DOC_KEYS = ("embedding_model", "chunker", "chunk_tokens", "overlap_tokens", "title_in_embedding", "sparse", "bm25_k1",
            "bm25_b", "bm25_avg_len")
# a change of these means other vector spaces: the collection is rebuilt, not just its stale documents
COLLECTION_KEYS = ("embedding_model", "multilingual_model")


def document_settings(settings) -> dict[str, Any]:
    """The settings a document's stored passages depend on."""
    c, ing = settings.chunking, settings.ingest
    return {
        "embedding_model": settings.embedding.model,
        "chunker": CHUNKER_VERSION,
        "chunk_tokens": c.chunk_tokens,
        "overlap_tokens": c.overlap_tokens,
        "title_in_embedding": c.title_in_embedding,
        "sparse": SPARSE_SCHEME,
        "bm25_k1": ing.bm25_k1,
        "bm25_b": ing.bm25_b,
        "bm25_avg_len": ing.bm25_avg_len,
    }


def collection_settings(settings) -> dict[str, Any]:
    e = settings.embedding
    return {**document_settings(settings), "multilingual_model": e.multilingual_model if e.multilingual else None}


def fingerprint(values: dict[str, Any]) -> str:
    """A short stable hash of settings values."""
    raw = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def recorded_collection_settings(meta: dict[str, Any]) -> dict[str, Any]:
    """The settings a collection was built with, as its meta point records them (older collections recorded only
    the models and the sparse scheme: the rest reads as "not recorded")."""
    if isinstance(meta.get("index"), dict):
        return dict(meta["index"])
    out = {k: NOT_RECORDED for k in DOC_KEYS}
    out.update(embedding_model=meta.get("embedding_model"), multilingual_model=meta.get("multilingual_model"),
               sparse=meta.get("sparse") or NOT_RECORDED)
    return out


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(setting, old value, new value) for every setting that differs."""
    old = old or {}
    return [(k, old.get(k, NOT_RECORDED), v) for k, v in new.items() if old.get(k, NOT_RECORDED) != v]


def describe(diffs: list[tuple[str, Any, Any]]) -> str:
    return ", ".join(f"{k}: {_fmt(a)} -> {_fmt(b)}" for k, a, b in diffs)


def needs_rebuild(diffs: list[tuple[str, Any, Any]]) -> bool:
    """True when the collection itself must be re-created (another dense or multilingual vector space)."""
    return any(k in COLLECTION_KEYS for k, _a, _b in diffs)


def _fmt(v: Any) -> str:
    if v is None:
        return "off"
    return v if isinstance(v, str) else json.dumps(v)
