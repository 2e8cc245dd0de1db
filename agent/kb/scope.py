"""A user's view of the knowledge base: their own documents plus the shared library (documents without an owner).

The API hands a :class:`ScopedKnowledgeBase` to a user's run (``AgentService.stream(..., scope=...)``) so that the
agent's retrieval, and the report's literature search, see only what that user may see. It exposes only the
read methods the agent uses; nothing reaches the underlying knowledge base unfiltered.
"""

from __future__ import annotations

from typing import Any

from agent.kb.models import DocumentInfo, SearchFilters


def with_owner(filters: SearchFilters | dict | None, owner: str) -> SearchFilters:
    """``filters`` restricted to ``owner``'s documents plus the shared library (any owners asked for are
    narrowed to ``owner``: a caller cannot widen its own scope)."""
    if filters is None:
        filters = SearchFilters()
    elif isinstance(filters, dict):
        filters = SearchFilters.model_validate(filters)
    return filters.model_copy(update={"owners": [owner]})


def visible(doc: DocumentInfo, owner: str | None) -> bool:
    """Whether ``owner`` (None: an admin looking at everything) may see ``doc``."""
    return owner is None or doc.owner is None or doc.owner == owner


class ScopedKnowledgeBase:
    def __init__(self, knowledge_base: Any, owner: str) -> None:
        self.knowledge_base = knowledge_base
        self.owner = owner

    def search(self, query: str, k: int | None = None, filters: SearchFilters | dict | None = None, **kwargs: Any):
        return self.knowledge_base.search(query, k=k, filters=with_owner(filters, self.owner), **kwargs)

    def stats(self) -> dict:
        return self.knowledge_base.stats()


def scope_for(owner: str):
    """The ``scope`` callable of a run: wraps the service's knowledge base in ``owner``'s view."""
    return lambda knowledge_base: ScopedKnowledgeBase(knowledge_base, owner)
