"""The bioagent endpoints: runs (whole and streamed), threads, ingest, sequence report, health and metrics."""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Depends, File, Path as PathParam, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent import __version__
from agent.api.auth import optional_api_key, require_api_key
from agent.api.errors import ERROR_RESPONSES, APIError, request_id_of, validation_error
from agent.api.runtime import ApiContext
from agent.api.schemas import (
    THREAD_ID_PATTERN,
    DependencyStatus,
    HealthResponse,
    IngestedFile,
    IngestResponse,
    ReadinessResponse,
    ReportRequest,
    ReportResponse,
    RunRequest,
    ThreadResponse,
)
from agent.events import RunResult, TraceEvent
from agent.kb.models import IngestReport

log = logging.getLogger("agent.api")

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES)
public = APIRouter()

_CHUNK = 1 << 20


def ctx_of(request: Request) -> ApiContext:
    return request.app.state.ctx


def check_message(ctx: ApiContext, message: str, loc: list[str | int]) -> None:
    limit = ctx.settings.api.max_message_chars
    if len(message) > limit:
        raise validation_error(loc, f"longer than {limit} characters", "string_too_long")


def stream_error_data(ctx: ApiContext, exc: BaseException, request: Request) -> dict[str, Any]:
    """What a stream says when its run fails after the response has started."""
    if isinstance(exc, ctx.llm_unavailable):
        return {"message": str(exc) or "The LLM endpoint is unavailable.", "status": 503, "code": "llm_unavailable"}
    rid = request_id_of(request)
    log.error("Run failed during a stream (request %s)", rid, exc_info=exc)
    return {"message": f"Internal server error. Quote request id {rid} when reporting it.", "status": 500,
            "code": "internal_error", "request_id": rid}


# -- runs -----------------------------------------------------------------------------------------------------


@router.post("/runs", response_model=RunResult, summary="Run the agent on a message and return the result")
async def create_run(body: RunRequest, request: Request) -> RunResult:
    """The answer, citations, retrieved passages, tool results and the full trace of one run."""
    ctx = ctx_of(request)
    check_message(ctx, body.message, ["body", "message"])
    return await ctx.run(request, "runs", body.message, body.thread_id, body.overrides)


@router.post(
    "/runs/stream",
    summary="Run the agent and stream its trace as Server-Sent Events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE: one event per TraceEvent."}},
)
async def stream_run(body: RunRequest, request: Request):
    """Each event's name is the TraceEvent type (``step``, ``token``, ``tool_call``, ``tool_result``, ``error``,
    ``done``) and its data is the TraceEvent as JSON; ``done`` carries the RunResult. A failure after the stream
    has started arrives as an ``error`` event with ``data.status`` (503 for an unavailable LLM) and ends the
    stream. Disconnecting cancels the run."""
    ctx = ctx_of(request)
    check_message(ctx, body.message, ["body", "message"])
    run = await ctx.open_stream("runs_stream", body.message, body.thread_id, body.overrides)

    async def sse():
        seq = 0
        try:
            async for event in run.events():
                seq += 1
                yield ServerSentEvent(data=event.model_dump_json(), event=event.type, id=str(seq))
        except Exception as exc:  # the response has started: report in-band, then end the stream
            err = TraceEvent(type="error", node="api", data=stream_error_data(ctx, exc, request))
            yield ServerSentEvent(data=err.model_dump_json(), event="error", id=str(seq + 1))

    return EventSourceResponse(sse(), sep="\n", ping=15)


# -- threads --------------------------------------------------------------------------------------------------


@router.get("/threads/{thread_id}", response_model=ThreadResponse, summary="Conversation history of a thread",
            responses={404: {"description": "No such thread."}})
async def get_thread(request: Request, thread_id: str = PathParam(..., pattern=THREAD_ID_PATTERN)) -> ThreadResponse:
    messages = await ctx_of(request).service.history(thread_id)
    if not messages:
        raise APIError(404, f"No conversation with thread id {thread_id!r}.", type="not_found_error",
                       code="thread_not_found")
    return ThreadResponse(thread_id=thread_id, messages=messages)


# -- ingest ---------------------------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def _safe_filename(name: str | None, index: int) -> str:
    base = Path((name or "").replace("\\", "/")).name
    base = _SAFE_NAME.sub("_", base).strip(" .")[:200]
    return base or f"upload-{index}"


def _scrubber(tmp: Path):
    """Messages name files by their upload name, not by the server's temporary path."""
    pattern = re.compile(re.escape(str(tmp)) + r"[/\\]\d+[/\\]")
    return lambda text: pattern.sub("", text)


async def _save_upload(upload: UploadFile, dest: Path, max_bytes: int, loc: list[str | int]) -> int:
    """Copy an upload to ``dest`` in chunks, enforcing the size limit and a cheap content check by type."""
    suffix = dest.suffix.lower()
    decoder = codecs.getincrementaldecoder("utf-8")() if suffix != ".pdf" else None
    written = 0
    head = b""
    with dest.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise APIError(413, f"{upload.filename!r} is larger than {max_bytes / 2**20:.1f} MiB.",
                               type="request_too_large", code="file_too_large")
            if len(head) < 8:
                head += chunk[:8]
            if decoder is not None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    raise APIError(415, f"{upload.filename!r} is not UTF-8 text.", type="unsupported_media_type",
                                   code="bad_encoding") from None
            await anyio.to_thread.run_sync(out.write, chunk)
    if written == 0:
        raise validation_error(loc, "file is empty")
    if suffix == ".pdf" and not head.startswith(b"%PDF-"):
        raise APIError(415, f"{upload.filename!r} is not a PDF.", type="unsupported_media_type", code="bad_pdf")
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise APIError(415, f"{upload.filename!r} is not UTF-8 text.", type="unsupported_media_type",
                           code="bad_encoding") from None
    return written


async def _knowledge_base(ctx: ApiContext, request: Request):
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


@router.post("/ingest", response_model=IngestResponse, summary="Upload files into the knowledge base",
             responses={413: {"description": "A file or the request is too large."},
                        415: {"description": "A file type that is not accepted."}})
async def ingest(
    request: Request,
    files: list[UploadFile] = File(..., description="PDF, text, Markdown or JSONL files (see upload_types)."),
) -> IngestResponse:
    """Files are written to a temporary directory, ingested (parsed, chunked, embedded, stored), and removed.
    The ingest report lists what was added, replaced or unchanged, and per-file warnings and errors."""
    ctx = ctx_of(request)
    api = ctx.settings.api
    if len(files) > api.max_upload_files:
        raise validation_error(["body", "files"], f"at most {api.max_upload_files} files per request")
    allowed = {t.lower() if t.startswith(".") else f".{t.lower()}" for t in api.upload_types}
    max_bytes = int(api.max_upload_mb * 2**20)
    tmp = Path(await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="bioagent-upload-")))
    try:
        saved: list[IngestedFile] = []
        paths: list[Path] = []
        for i, upload in enumerate(files):
            name = _safe_filename(upload.filename, i)
            suffix = Path(name).suffix.lower()
            if suffix not in allowed:
                ctx.metrics.ingest_files.labels("rejected").inc()
                raise APIError(415, f"{upload.filename!r}: type {suffix or '(none)'} is not accepted; "
                               f"accepted: {', '.join(sorted(allowed))}.", type="unsupported_media_type",
                               code="unsupported_file_type")
            if upload.size is not None and upload.size > max_bytes:
                ctx.metrics.ingest_files.labels("rejected").inc()
                raise APIError(413, f"{upload.filename!r} is larger than {api.max_upload_mb:g} MiB.",
                               type="request_too_large", code="file_too_large")
            sub = tmp / str(i)  # one folder per file keeps names unique without renaming them
            sub.mkdir()
            dest = sub / name
            try:
                size = await _save_upload(upload, dest, max_bytes, ["body", "files", i])
            except APIError:
                ctx.metrics.ingest_files.labels("rejected").inc()
                raise
            saved.append(IngestedFile(filename=name, bytes=size))
            paths.append(dest)
        kb = await _knowledge_base(ctx, request)
        scrub = _scrubber(tmp)
        try:
            async with ctx.ingest_lock:  # one ingest at a time: the store is written by a single writer
                report = await anyio.to_thread.run_sync(kb.ingest_paths, paths)
        except ctx.ingest_error as exc:
            ctx.metrics.ingest_files.labels("rejected").inc(len(paths))
            raise APIError(422, scrub(str(exc)) or "The file could not be ingested.", type="ingest_error",
                           code="ingest_error") from None
        ctx.metrics.ingest_files.labels("ingested").inc(len(paths))
        if not isinstance(report, IngestReport):
            report = IngestReport.model_validate(report)
        for key in ("warnings", "errors"):
            setattr(report, key, [scrub(m) for m in getattr(report, key)])
        return IngestResponse(files=saved, report=report)
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(tmp, ignore_errors=True))


# -- report ---------------------------------------------------------------------------------------------------


@router.post("/sequence/report", response_model=ReportResponse, summary="Structured report for a sequence")
async def sequence_report(body: ReportRequest, request: Request) -> ReportResponse:
    """The report mode: literature retrieval, Rep annotation and an ESM-2 mutation/scan summary for a protein or
    DNA sequence, as Markdown plus the figures' data."""
    ctx = ctx_of(request)
    check_message(ctx, body.sequence, ["body", "sequence"])
    task = asyncio.create_task(ctx.service.report(body.sequence, lang=body.lang))
    try:
        result = await ctx.until_disconnect(request, task)
    except ValueError as exc:  # the service's word on an unusable sequence
        raise validation_error(["body", "sequence"], str(exc) or "not a usable sequence") from None
    return ReportResponse.model_validate(result)


# -- health, readiness, metrics -------------------------------------------------------------------------------


@public.get("/healthz", response_model=HealthResponse, summary="Liveness (no key needed)", tags=["ops"])
async def healthz() -> HealthResponse:
    return HealthResponse(version=__version__)


def _required(ctx: ApiContext, name: str) -> bool:
    if name.startswith("mcp_"):
        server = getattr(ctx.settings.mcp, name.removeprefix("mcp_"), None)
        return bool(getattr(server, "enabled", True))
    return True


@public.get("/readyz", response_model=ReadinessResponse, summary="Readiness: LLM, Qdrant and MCP servers",
            tags=["ops"], responses={503: {"model": ReadinessResponse, "description": "A required dependency is down."}})
async def readyz(request: Request, authorized: bool = Depends(optional_api_key)) -> JSONResponse:
    """200 when every required dependency answers, 503 naming those that do not. No key needed; the failure
    details (endpoint URLs, error text) are shown only to callers that present the key."""
    ctx = ctx_of(request)
    try:
        raw = await ctx.readiness(ctx.settings.api.readiness_timeout_s)
    except Exception as exc:
        log.exception("Readiness check failed (request %s)", request_id_of(request))
        raw = {"service": {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}}
    checks: dict[str, DependencyStatus] = {}
    for name, info in raw.items():
        info = info if isinstance(info, dict) else {"ok": bool(info)}
        checks[name] = DependencyStatus(
            ok=bool(info.get("ok")), required=_required(ctx, name),
            detail=str(info.get("detail")) if authorized and info.get("detail") is not None else None,
        )
    failing = sorted(n for n, c in checks.items() if c.required and not c.ok)
    body = ReadinessResponse(status="not_ready" if failing else "ready", failing=failing, checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if failing else 200)


@public.get("/metrics", summary="Prometheus metrics", tags=["ops"],
            responses={200: {"content": {"text/plain": {}}}, **{401: ERROR_RESPONSES[401]}})
async def metrics(request: Request, authorized: bool = Depends(optional_api_key)) -> Response:
    """Key required unless BIOAGENT_API__METRICS_PUBLIC=true."""
    ctx = ctx_of(request)
    if not (authorized or ctx.settings.api.metrics_public):
        raise APIError(401, "Missing or invalid API key: send `Authorization: Bearer <key>`.",
                       type="authentication_error", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
    return Response(ctx.metrics.render(), media_type=ctx.metrics.CONTENT_TYPE)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
