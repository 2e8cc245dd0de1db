"""The knowledge base: ingest documents, embed them, store them in Qdrant and search them (hybrid + rerank)."""
