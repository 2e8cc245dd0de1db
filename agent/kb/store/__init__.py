"""Vector-store backends behind one interface: embedded Qdrant Edge (default) or qdrant-client by URL."""

from __future__ import annotations

from agent.kb.store.base import DENSE, MDENSE, SPARSE, PointData, Route, ScoredRecord, StoredRecord, StoreFilter, VectorStore


def open_store(settings) -> VectorStore:
    """The store the settings ask for: `qdrant.url` set -> qdrant-client; unset -> Qdrant Edge in data_dir."""
    q = settings.qdrant
    r = settings.retrieval
    if q.url:
        from agent.kb.store.client import ClientStore

        return ClientStore(
            q.url, q.collection, api_key=q.api_key.get_secret_value() if q.api_key else None, timeout_s=q.timeout_s,
            shard_number=q.shard_number, replication_factor=q.replication_factor,
            write_consistency_factor=q.write_consistency_factor, hnsw_m=q.hnsw_m, hnsw_ef_construct=q.hnsw_ef_construct,
            hnsw_ef=r.hnsw_ef,
        )
    from agent.kb.store.edge import EdgeStore

    return EdgeStore.acquire(settings.data_dir / "qdrant" / q.collection, hnsw_m=q.hnsw_m, hnsw_ef_construct=q.hnsw_ef_construct,
                     hnsw_ef=r.hnsw_ef)


__all__ = ["DENSE", "MDENSE", "SPARSE", "PointData", "Route", "ScoredRecord", "StoredRecord", "StoreFilter",
           "VectorStore", "open_store"]
