"""Data types of the knowledge base, shared by every surface (CLI, MCP, agent, API, UI, evals)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class RecordSection(BaseModel):
    """A part of a record's text that chunks never cross (e.g. one section of a JATS full text)."""

    text: str = Field(..., min_length=1)
    section: str | None = None
    kind: Literal["body", "caption", "table", "reference"] = "body"
    page: int | None = None


class Record(BaseModel):
    """One document given as data (JSONL line, PubMed record, API upload)."""

    id: str = Field(..., min_length=1, description="Stable document id, e.g. `pmid:12345` or a file path.")
    title: str = ""
    text: str = Field(..., min_length=1)
    source: str | None = None  # e.g. "pubmed", "europepmc", "file", "jsonl"
    year: int | None = None
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    sections: list[RecordSection] | None = Field(
        None, description="Structured text (full text by section, captions, references); replaces `text` when given.")


class SearchFilters(BaseModel):
    """Metadata filters; every field that is set must match."""

    source: str | list[str] | None = None
    doc_id: str | list[str] | None = None
    year_min: int | None = None
    year_max: int | None = None
    include_references: bool = Field(
        False, description="Also search reference-list entries (never evidence by default).")
    owners: list[str] | None = Field(
        None, description="Only documents of these owners plus the shared library (documents without an owner)."
    )


class Hit(BaseModel):
    """One retrieved passage with where it comes from and each stage's score."""

    chunk_id: str
    doc_id: str
    text: str
    title: str = ""
    source: str | None = None
    page: int | None = None
    section: str | None = None
    year: int | None = None
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    score: float = Field(..., description="Final score used for ranking.")
    scores: dict[str, float] = Field(default_factory=dict, description="Score per stage: dense, sparse, the fusion (dbsf or rrf), rerank.")
    chunk_kind: str | None = Field(None, description="body, caption, table or reference (None: stored before kinds).")

    def citation(self) -> str:
        """Short human-readable pointer: title, page/section, DOI/PMID."""
        parts = [self.title or self.doc_id]
        if self.page is not None:
            parts.append(f"p. {self.page}")
        elif self.section:
            parts.append(self.section)
        if self.doi:
            parts.append(f"doi:{self.doi}")
        elif self.pmid:
            parts.append(f"PMID:{self.pmid}")
        return ", ".join(parts)


class IngestReport(BaseModel):
    added_docs: list[str] = Field(default_factory=list)
    replaced_docs: list[str] = Field(default_factory=list)
    unchanged_docs: list[str] = Field(default_factory=list)
    chunks_written: int = 0
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    chunks_unchanged: int = Field(0, description="Chunks of unchanged documents (not re-embedded).")
    multilingual_chunks: int = Field(0, description="Chunks that got their multilingual vector in this run.")
    multilingual_seconds: float = Field(0.0, description="Time spent on multilingual vectors (included in seconds).")
    multilingual_pending: int = Field(0, description="Passages still without a multilingual vector after this run "
                                      "(filled by `bioagent kb multilingual` or in the background).")
    reindexed_docs: list[str] = Field(default_factory=list, description="Stale documents rebuilt by --reindex.")
    not_rebuilt: list[str] = Field(default_factory=list, description="Stale documents --reindex could not rebuild "
                                   "(no source: re-ingest them).")


class DocumentInfo(BaseModel):
    doc_id: str
    title: str = ""
    source: str | None = None
    year: int | None = None
    chunks: int = 0
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    path: str | None = Field(None, description="File the document was read from, if any.")
    ingested_at: float | None = Field(None, description="Unix time of the last (re)ingest.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Other front-matter/record metadata.")
    owner: str | None = Field(None, description="The user who uploaded it; unset: the shared library.")
