"""The knowledge base: ingest documents, embed them, store them in Qdrant and search them (hybrid + rerank)."""

from agent.kb.errors import DocumentNotFoundError, IngestError, KBError, StoreConfigError
from agent.kb.models import DocumentInfo, Hit, IngestReport, Record, SearchFilters
from agent.kb.service import KnowledgeBase, get_knowledge_base

__all__ = [
    "DocumentInfo", "DocumentNotFoundError", "Hit", "IngestError", "IngestReport", "KBError", "KnowledgeBase",
    "Record", "SearchFilters", "StoreConfigError", "get_knowledge_base",
]
