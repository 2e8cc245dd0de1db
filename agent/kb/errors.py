"""Errors of the knowledge base. Messages are written for people: they name the file and what is wrong."""

from __future__ import annotations


class KBError(Exception):
    """Base class of knowledge-base errors that a surface (CLI, API, MCP) shows as a plain message."""


class IngestError(KBError, ValueError):
    """An input cannot be ingested (unsupported, empty, binary, oversized, malformed). Names the file."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


class DocumentNotFoundError(KBError, KeyError):
    """No document with this id is in the knowledge base."""

    def __init__(self, doc_id: str):
        super().__init__(doc_id)
        self.doc_id = doc_id

    def __str__(self) -> str:  # KeyError would quote the repr
        return f"no document with id {self.doc_id!r} in the knowledge base (see `bioagent kb list`)"


class StoreConfigError(KBError):
    """The collection on disk/server was built with a different embedding model or layout."""
