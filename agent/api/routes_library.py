"""The library: documents (list, get, delete, search, stats), ingest jobs (``POST /v1/ingest``, ``GET /v1/jobs/{id}``).

A user sees their own documents plus the shared library (documents without an owner); someone else's document
is a 404. Uploads are the uploader's unless an admin sends ``shared=true``. Admins see and manage everything.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path as PathParam, Query, Request
from fastapi.responses import JSONResponse

from agent.api.accounts import User
from agent.api.auth import require_user
from agent.api.errors import ERROR_RESPONSES, APIError, request_id_of
from agent.api.resources import (
    Document, DocumentDeleted, DocumentList, JobAccepted, JobStatus, SearchHit, SearchRequest, SearchResponse,
)
from agent.api.routes import ctx_of
from agent.api.runtime import ApiContext, not_found
from agent.api.uploads import UploadReceiver
from agent.kb.scope import visible, with_owner

log = logging.getLogger("agent.api")

router = APIRouter(prefix="/v1", dependencies=[Depends(require_user)], responses=ERROR_RESPONSES)
DOC_ID = PathParam(..., min_length=1, max_length=512, description="Document id (as listed).")
MULTIPART = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                   "shared": {"type": "boolean", "description": "Admins: add to the shared library."}}}}}}}


async def knowledge_base(ctx: ApiContext, request: Request):
    """The knowledge base, or a 503 that says why it cannot be opened."""
    from agent.kb.errors import KBError

    try:
        return await ctx.knowledge_base()
    except KBError as exc:  # written for people (e.g. a store built with another embedding model)
        raise APIError(503, f"The knowledge base is unavailable: {exc}", type="kb_unavailable",
                       code="kb_unavailable") from None
    except Exception:
        rid = request_id_of(request)
        log.exception("Opening the knowledge base failed (request %s)", rid)
        raise APIError(503, f"The knowledge base is unavailable; quote request id {rid} when reporting it.",
                       type="kb_unavailable", code="kb_unavailable") from None


def _doc(d: Any, with_metadata: bool = False) -> Document:
    return Document(id=d.doc_id, title=d.title, source=d.source, year=d.year, doi=d.doi, chunks=d.chunks,
                    owner=d.owner, shared=d.owner is None, metadata=d.metadata if with_metadata else None)


async def _documents(ctx: ApiContext, request: Request, user: User) -> list[Any]:
    kb = await knowledge_base(ctx, request)
    docs = await asyncio.to_thread(kb.list_documents)
    return [d for d in docs if visible(d, None if user.is_admin else user.name)]


@router.get("/documents", response_model=DocumentList, summary="Documents the user can see")
async def list_documents(request: Request, user: User = Depends(require_user),
                         scope: Literal["mine", "shared", "all"] = Query("all")) -> DocumentList:
    """``mine``: uploaded by the user; ``shared``: the shared library; ``all``: both (admins: every document)."""
    docs = await _documents(ctx_of(request), request, user)
    if scope == "mine":
        docs = [d for d in docs if d.owner == user.name]
    elif scope == "shared":
        docs = [d for d in docs if d.owner is None]
    return DocumentList(documents=[_doc(d) for d in docs])


@router.get("/documents/stats", summary="Documents and chunks the user can see")
async def document_stats(request: Request, user: User = Depends(require_user)) -> dict[str, Any]:
    ctx = ctx_of(request)
    docs = await _documents(ctx, request, user)
    out: dict[str, Any] = {"documents": len(docs), "chunks": sum(d.chunks for d in docs),
                           "mine": sum(1 for d in docs if d.owner == user.name),
                           "shared": sum(1 for d in docs if d.owner is None)}
    if user.is_admin:
        kb = await knowledge_base(ctx, request)
        out["store"] = await asyncio.to_thread(kb.stats)
    return out


async def _one(request: Request, user: User, doc_id: str) -> Any:
    for d in await _documents(ctx_of(request), request, user):
        if d.doc_id == doc_id:
            return d
    raise not_found("document", doc_id)


@router.get("/documents/{doc_id}", response_model=Document, summary="One document",
            responses={404: {"description": "No such document (or not yours)."}})
async def get_document(request: Request, doc_id: str = DOC_ID, user: User = Depends(require_user)) -> Document:
    return _doc(await _one(request, user, doc_id), with_metadata=True)


@router.delete("/documents/{doc_id}", response_model=DocumentDeleted, summary="Remove a document",
               responses={404: {"description": "No such document (or not yours)."},
                          403: {"description": "A shared document (admins manage the shared library)."}})
async def delete_document(request: Request, doc_id: str = DOC_ID,
                          user: User = Depends(require_user)) -> DocumentDeleted:
    ctx = ctx_of(request)
    doc = await _one(request, user, doc_id)
    if doc.owner is None and not user.is_admin:
        raise APIError(403, "The shared library is managed by admins.", type="permission_error", code="shared_document")
    kb = await knowledge_base(ctx, request)
    from agent.kb.errors import DocumentNotFoundError

    try:
        chunks = await asyncio.to_thread(kb.remove, doc.doc_id)
    except DocumentNotFoundError:
        raise not_found("document", doc_id) from None
    return DocumentDeleted(deleted=doc.doc_id, chunks=chunks)


@router.post("/documents/search", response_model=SearchResponse, summary="Search the user's library")
async def search_documents(body: SearchRequest, request: Request, user: User = Depends(require_user)) -> SearchResponse:
    """Hybrid search over the user's documents plus the shared library (admins: every document)."""
    ctx = ctx_of(request)
    kb = await knowledge_base(ctx, request)
    filters = body.filters if user.is_admin else with_owner(body.filters, user.name)
    try:
        hits = await asyncio.to_thread(kb.search, body.query, k=body.k, filters=filters)
    except ValueError as exc:
        from agent.api.errors import validation_error

        raise validation_error(["body", "filters"], str(exc)) from None
    return SearchResponse(hits=[SearchHit(id=h.chunk_id, doc_id=h.doc_id, title=h.title, text=h.text, score=h.score,
                                          page=h.page, source=h.source, year=h.year) for h in hits])


# -- ingest jobs ----------------------------------------------------------------------------------------------


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@router.post("/ingest", status_code=202, response_model=JobAccepted, openapi_extra=MULTIPART,
             summary="Upload files into the library as a background job",
             responses={413: {"description": "A file or the request is too large."},
                        415: {"description": "A file type that is not accepted."},
                        429: {"description": "Too many jobs running and queued."}})
async def ingest(request: Request, user: User = Depends(require_user)) -> JSONResponse:
    """Multipart field ``files`` (PDF, text, Markdown or JSONL; see ``BIOAGENT_API__UPLOAD_TYPES``), optional
    ``shared=true`` (admins). The files are streamed to disk with the size limit checked as they arrive, then a
    job parses (in a child process, with a time limit) and ingests them. Poll ``GET /v1/jobs/{job_id}``."""
    ctx = ctx_of(request)
    api = ctx.settings.api
    ctx.jobs.check_capacity()
    await knowledge_base(ctx, request)
    allowed = {t.lower() if t.startswith(".") else f".{t.lower()}" for t in api.upload_types}
    tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="bioagent-upload-"))
    receiver = UploadReceiver(tmp, max_file_bytes=int(api.max_upload_mb * 2**20), max_files=api.max_upload_files,
                              allowed=allowed)
    try:
        upload = await receiver.receive(request)
        shared = _truthy(upload.fields.get("shared"))
        if shared and not user.is_admin:
            raise APIError(403, "Only admins add to the shared library.", type="permission_error", code="admin_only")
    except BaseException:
        ctx.metrics.ingest_files.labels("rejected").inc(max(1, len(receiver.upload.files)))
        await asyncio.to_thread(shutil.rmtree, tmp, True)
        raise
    job = ctx.jobs.submit(user.name, upload.files, tmp, shared)
    return JSONResponse(JobAccepted(job_id=job.job_id).model_dump(), status_code=202,
                        headers={"Location": f"/v1/jobs/{job.job_id}"})


@router.get("/jobs/{job_id}", response_model=JobStatus, summary="An ingest job's state, progress and results",
            responses={404: {"description": "No such job (or not yours)."}})
async def get_job(request: Request, job_id: str = PathParam(..., pattern=r"^[0-9a-f]{32}$"),
                  user: User = Depends(require_user)) -> JobStatus:
    job = ctx_of(request).jobs.get(job_id, user.name)
    if job is None:
        raise not_found("job", job_id)
    return JobStatus.model_validate(job.describe())
