"""Probes and metrics: ``/healthz`` (liveness), ``/readyz`` (readiness), ``/metrics`` (Prometheus).

Readiness fails (503) only for what the API cannot serve without: the knowledge-base store and the conversation
checkpointer. The LLM endpoint and the MCP servers are reported under ``degraded`` with a 200: an LLM outage makes
answers fall back (or fail fast with 503 per request) but must not take every replica out of the Service.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from agent import __version__
from agent.api.accounts import User
from agent.api.auth import is_metrics_token, optional_user
from agent.api.errors import ERROR_RESPONSES, APIError, request_id_of
from agent.api.routes import ctx_of
from agent.api.schemas import DependencyStatus, HealthResponse, ReadinessResponse

log = logging.getLogger("agent.api")

public = APIRouter(tags=["ops"])
REQUIRED = ("qdrant", "checkpointer", "readiness", "service")


@public.get("/healthz", response_model=HealthResponse, summary="Liveness (no key needed)")
async def healthz() -> HealthResponse:
    return HealthResponse(version=__version__)


@public.get("/readyz", response_model=ReadinessResponse, summary="Readiness: store and checkpointer (LLM/MCP: degraded)",
            responses={503: {"model": ReadinessResponse, "description": "The store or the checkpointer is down."}})
async def readyz(request: Request, user: User | None = Depends(optional_user)) -> JSONResponse:
    """200 ``ready`` when everything answers; 200 ``degraded`` naming the LLM or MCP servers that do not; 503
    ``not_ready`` when the store or the checkpointer does not (or the server is shutting down). No key needed;
    the details (endpoint URLs, error text) are shown only to callers that present a key."""
    ctx = ctx_of(request)
    try:
        raw = await ctx.readiness(ctx.settings.api.readiness_timeout_s)
    except Exception as exc:
        log.exception("Readiness check failed (request %s)", request_id_of(request))
        raw = {"service": {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}}
    if ctx.shutting_down:
        raw = {**raw, "service": {"ok": False, "detail": "shutting down"}}
    checks: dict[str, DependencyStatus] = {}
    for name, info in raw.items():
        info = info if isinstance(info, dict) else {"ok": bool(info)}
        checks[name] = DependencyStatus(
            ok=bool(info.get("ok")), required=name in REQUIRED,
            detail=str(info.get("detail")) if user is not None and info.get("detail") is not None else None,
        )
    failing = sorted(n for n, c in checks.items() if c.required and not c.ok)
    degraded = sorted(n for n, c in checks.items() if not c.required and not c.ok and _enabled(ctx, n))
    status = "not_ready" if failing else ("degraded" if degraded else "ready")
    body = ReadinessResponse(status=status, failing=failing, degraded=degraded, checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if failing else 200)


def _enabled(ctx, name: str) -> bool:
    if name.startswith("mcp_"):
        server = getattr(ctx.settings.mcp, name.removeprefix("mcp_"), None)
        return bool(getattr(server, "enabled", True))
    return True


@public.get("/metrics", summary="Prometheus metrics", responses={200: {"content": {"text/plain": {}}},
                                                                  401: ERROR_RESPONSES[401]})
async def metrics(request: Request, user: User | None = Depends(optional_user)) -> Response:
    """An admin key or the scrape token (``BIOAGENT_API__METRICS_TOKEN``) as a bearer token; no key with
    ``BIOAGENT_API__METRICS_PUBLIC=true``. ``BIOAGENT_API__METRICS_PORT`` serves them without auth on a second
    (pod-internal) port."""
    ctx = ctx_of(request)
    allowed = (ctx.settings.api.metrics_public or (user is not None and user.is_admin)
               or is_metrics_token(ctx.settings, request.headers.get("authorization")))
    if not allowed:
        raise APIError(401, "Missing or invalid key: send `Authorization: Bearer <admin key or metrics token>`.",
                       type="authentication_error", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
    return Response(ctx.metrics.render(), media_type=ctx.metrics.CONTENT_TYPE)
