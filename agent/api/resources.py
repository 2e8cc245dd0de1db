"""Bodies of the resource endpoints: users, documents, threads, jobs, runs with ids, sequences."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.api.schemas import MESSAGE_MAX_CHARS, _not_blank
from agent.events import RunResult
from agent.kb.models import SearchFilters

Lang = Literal["en", "zh"]


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lang: Lang = Field("en", description="Interface and report language.")


class Me(BaseModel):
    user: str
    role: Literal["admin", "user"]
    preferences: Preferences


class PasswordLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    api_key: str
    user: str


# -- documents ------------------------------------------------------------------------------------------------


class Document(BaseModel):
    id: str
    title: str = ""
    source: str | None = None
    year: int | None = None
    doi: str | None = None
    chunks: int = 0
    owner: str | None = None
    shared: bool = True
    metadata: dict[str, Any] | None = None


class DocumentList(BaseModel):
    documents: list[Document]


class DocumentDeleted(BaseModel):
    deleted: str
    chunks: int


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1, max_length=4000)
    k: int = Field(6, ge=1, le=50)
    filters: SearchFilters | None = None

    _blank = field_validator("query")(_not_blank)


class SearchHit(BaseModel):
    id: str
    doc_id: str
    title: str = ""
    text: str
    score: float
    page: int | None = None
    source: str | None = None
    year: int | None = None


class SearchResponse(BaseModel):
    hits: list[SearchHit]


# -- threads, jobs, runs --------------------------------------------------------------------------------------


class ThreadInfo(BaseModel):
    thread_id: str
    title: str
    updated_at: float


class ThreadList(BaseModel):
    threads: list[ThreadInfo]


class ThreadDeleted(BaseModel):
    deleted: str


class JobAccepted(BaseModel):
    job_id: str
    state: str = "queued"


class JobProgress(BaseModel):
    done: int
    total: int


class JobStatus(BaseModel):
    job_id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: JobProgress
    results: list[dict[str, Any]]
    error: str | None = None


class RunResponse(RunResult):
    run_id: str | None = None


class RunAccepted(BaseModel):
    run_id: str
    thread_id: str
    status: str = "running"


class RunStatus(BaseModel):
    run_id: str
    thread_id: str
    status: Literal["running", "done", "failed", "cancelled"]
    endpoint: str
    events: int = Field(..., description="Events so far (the last SSE id).")
    result: dict[str, Any] | None = None
    error: str | None = None


# -- sequences ------------------------------------------------------------------------------------------------


class _Sequence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sequence: str = Field(..., min_length=1, max_length=MESSAGE_MAX_CHARS, description="Protein or DNA, raw or FASTA/GenBank.")

    _blank = field_validator("sequence")(_not_blank)


class AnalyzeRequest(_Sequence):
    scan: bool = Field(True, description="Run the ESM-2 mutational scan of the chosen protein.")
    mutations: list[str] | None = Field(None, max_length=200, description="Variants to score, e.g. `K25A`, `K25A:G30D`.")


class GenomeRequest(_Sequence):
    circular: bool | None = Field(None, description="Circular genome (unset: from the record, else guessed).")
    map: bool = Field(False, description="Add the genome map as a PNG (base64).")


class SequenceReportRequest(_Sequence):
    lang: Lang = Field("en", description="Report language.")
    scan: bool = Field(True, description="Include the ESM-2 scan.")
    literature: bool = Field(True, description="Search the library for the protein family.")
