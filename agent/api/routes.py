"""Run endpoints: ``POST /v1/runs`` (whole result, or a background run), ``POST /v1/runs/stream`` (SSE),
``GET /v1/runs/{id}``, ``GET /v1/runs/{id}/stream`` (SSE resume with ``Last-Event-ID``) and cancel."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, Depends, Header, Path as PathParam, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent.api.accounts import User
from agent.api.auth import require_user
from agent.api.errors import ERROR_RESPONSES, request_id_of, validation_error
from agent.api.resources import RunAccepted, RunResponse, RunStatus
from agent.api.runs import RunRecord
from agent.api.runtime import ApiContext, not_found
from agent.api.schemas import RunRequest
from agent.events import TraceEvent

log = logging.getLogger("agent.api")

router = APIRouter(prefix="/v1", dependencies=[Depends(require_user)], responses=ERROR_RESPONSES)
RUN_ID = PathParam(..., pattern=r"^[0-9a-f]{32}$", description="The run id from POST /v1/runs.")
SSE_RESPONSE = {200: {"content": {"text/event-stream": {}}, "description": "SSE: one event per TraceEvent."}}


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


async def await_run(ctx: ApiContext, request: Request, record: RunRecord):
    """The run's result; a client that goes away cancels a run it did not detach."""
    waiter = asyncio.ensure_future(record.wait())
    try:
        return await ctx.until_disconnect(request, waiter, cancel=False)
    except asyncio.CancelledError:
        waiter.cancel()
        if not record.detached:
            ctx.runs.cancel(record)
        raise


def sse_of(ctx: ApiContext, request: Request, record: RunRecord, after: int = 0, cancel_on_exit: bool = False,
           first: ServerSentEvent | None = None) -> EventSourceResponse:
    """A run's events as SSE with ids; ``cancel_on_exit``: the reader leaving early cancels the run."""

    async def events():
        if first is not None:
            yield first
        seq = after
        try:
            async for seq, event in record.follow(after):
                yield ServerSentEvent(data=event.model_dump_json(), event=event.type, id=str(seq))
        except Exception as exc:  # the response has started: report in-band, then end the stream
            err = TraceEvent(type="error", node="api", data=stream_error_data(ctx, exc, request))
            yield ServerSentEvent(data=err.model_dump_json(), event="error", id=str(seq + 1))
        finally:
            if cancel_on_exit and not record.finished:
                ctx.runs.cancel(record)

    headers = {"X-Run-Id": record.run_id, "X-Thread-Id": record.thread_id}
    return EventSourceResponse(events(), sep="\n", ping=15, headers=headers)


@router.post("/runs", response_model=RunResponse, summary="Run the agent (whole result, or in the background)",
             responses={202: {"model": RunAccepted, "description": "`background: true`: the run id to follow."},
                        404: {"description": "The thread belongs to someone else."}})
async def create_run(body: RunRequest, request: Request, user: User = Depends(require_user)):
    """The answer, citations, retrieved passages, tool results, the full trace and the run id. With
    ``background: true`` the answer is 202 with the run id at once; follow it with ``GET /v1/runs/{id}`` or
    ``GET /v1/runs/{id}/stream``. A client that disconnects from a foreground run cancels it."""
    ctx = ctx_of(request)
    check_message(ctx, body.message, ["body", "message"])
    record = await ctx.start_run(user, "runs", body.message, body.thread_id, body.overrides, detached=body.background)
    if body.background:
        accepted = RunAccepted(run_id=record.run_id, thread_id=record.thread_id)
        return JSONResponse(accepted.model_dump(), status_code=202)
    result = await await_run(ctx, request, record)
    return RunResponse(**result.model_dump(), run_id=record.run_id)


@router.post("/runs/stream", summary="Run the agent and stream its trace as Server-Sent Events",
             response_class=EventSourceResponse, responses=SSE_RESPONSE)
async def stream_run(body: RunRequest, request: Request, user: User = Depends(require_user)):
    """The first event (``run``) carries ``run_id`` and ``thread_id``; then each event's name is the TraceEvent
    type (``step``, ``token``, ``tool_call``, ``tool_result``, ``error``, ``done``), its data the TraceEvent as
    JSON and its ``id`` the event's sequence number (for ``GET /v1/runs/{id}/stream`` with ``Last-Event-ID``).
    ``done`` carries the RunResult. A failure after the stream has started arrives as an ``error`` event with
    ``data.status`` (503 for an unavailable LLM). Disconnecting cancels the run unless ``background`` is true."""
    ctx = ctx_of(request)
    check_message(ctx, body.message, ["body", "message"])
    record = await ctx.start_run(user, "runs_stream", body.message, body.thread_id, body.overrides,
                                 detached=body.background)
    try:
        await ctx.first_event(record)
    except BaseException:
        ctx.runs.cancel(record)
        raise
    first = ServerSentEvent(data=json.dumps({"run_id": record.run_id, "thread_id": record.thread_id}),
                            event="run", id="0")
    return sse_of(ctx, request, record, cancel_on_exit=not body.background, first=first)


def _record(request: Request, user: User, run_id: str) -> RunRecord:
    record = ctx_of(request).runs.get(run_id, user.name)
    if record is None:
        raise not_found("run", run_id)
    return record


@router.get("/runs/{run_id}", response_model=RunStatus, summary="A run's status (and result when done)",
            responses={404: {"description": "No such run (or not yours)."}})
async def get_run(request: Request, run_id: str = RUN_ID, user: User = Depends(require_user)) -> RunStatus:
    return RunStatus.model_validate(_record(request, user, run_id).describe())


@router.post("/runs/{run_id}/cancel", response_model=RunStatus, summary="Cancel a run",
             responses={404: {"description": "No such run (or not yours)."}})
async def cancel_run(request: Request, run_id: str = RUN_ID, user: User = Depends(require_user)) -> RunStatus:
    record = _record(request, user, run_id)
    if record.task is not None and not record.task.done():
        record.task.cancel()
        await asyncio.wait({record.task}, timeout=5)
    return RunStatus.model_validate(record.describe(with_result=False))


@router.get("/runs/{run_id}/stream", summary="Follow a run's events (SSE), resuming after Last-Event-ID",
            response_class=EventSourceResponse, responses={**SSE_RESPONSE, 404: {"description": "No such run."}})
async def follow_run(request: Request, run_id: str = RUN_ID, user: User = Depends(require_user),
                     last_event_id: str | None = Header(None, pattern=r"^\d{1,12}$",
                                                        description="Resume after this event id.")):
    """Replays the events after ``Last-Event-ID`` still in the run's buffer (the last
    ``BIOAGENT_API__RUN_EVENT_BUFFER`` events), then follows the run live to its end. Leaving does not cancel it."""
    record = _record(request, user, run_id)
    return sse_of(ctx_of(request), request, record, after=int(last_event_id or 0))


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
