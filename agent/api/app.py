"""The FastAPI application: ``create_app(settings, service)``; ``bioagent serve`` runs it with uvicorn."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from agent import __version__
from agent.api.accounts import AccountStore, store_path
from agent.api.auth import authenticate, check_auth_config
from agent.api.errors import install_error_handlers
from agent.api.metrics import APIMetrics
from agent.api.middleware import RequestContextMiddleware, RequestGuardMiddleware
from agent.api.runtime import ApiContext
from agent.settings import Settings, get_settings

log = logging.getLogger("agent.api")

DESCRIPTION = """\
HTTP API of bioagent, a cited research assistant for viral proteins.

Authenticate with `Authorization: Bearer <key>`: a user's key (`bioagent users add NAME` prints it once;
`POST /v1/auth/token` trades a password for a new one) or `BIOAGENT_API__API_KEY` (admin). Users see only
their own threads, runs, jobs and documents plus the shared library; someone else's is a 404. `/healthz` and
`/readyz` need no key; `/metrics` takes an admin key or `BIOAGENT_API__METRICS_TOKEN`. Errors share one body:
`{"error": {"type", "message", "code", "request_id"}, "detail"}`; validation errors (422) list the fields in
`detail`. Every response carries `X-Request-ID`.
"""


def _error_types() -> tuple[type[BaseException], type[BaseException]]:
    from agent.kb.errors import IngestError
    from agent.llm import LLMUnavailable

    return LLMUnavailable, IngestError


def create_app(
    settings: Settings | None = None,
    service: Any = None,
    *,
    knowledge_base: Any = None,
    metrics: APIMetrics | None = None,
    close_service: bool | None = None,
) -> FastAPI:
    """Build the app.

    ``service`` is an ``AgentService`` (or anything with its interface); when omitted, one is built from
    ``settings`` at startup and closed at shutdown. An injected service is left open (its owner closes it)
    unless ``close_service`` is true.
    ``knowledge_base`` is what ``POST /v1/ingest`` writes to (default: the service's, else
    ``agent.kb.get_knowledge_base``). Raises :class:`agent.api.auth.AuthConfigError` when no API key is set
    and auth is not explicitly disabled.
    """
    settings = settings or get_settings()
    accounts = AccountStore(store_path(settings))
    try:
        check_auth_config(settings, accounts)
    except Exception:
        accounts.close()
        raise
    llm_unavailable, ingest_error = _error_types()
    metrics = metrics or APIMetrics()
    ctx = ApiContext(settings, metrics, service=service, knowledge_base=knowledge_base,
                     llm_unavailable=llm_unavailable, ingest_error=ingest_error, accounts=accounts)
    if close_service is not None:
        ctx.owns_service = close_service

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        _ = ctx.service  # build it now, so that a broken configuration fails at startup, not at the first call
        if ctx.owns_service and service is None:
            ctx.start_warmup()
        scrape = start_metrics_port(settings, metrics)
        try:
            yield
        finally:
            if scrape is not None:
                scrape.shutdown()
            await ctx.aclose()

    app = FastAPI(
        title="bioagent",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "agent", "description": "Runs, threads, documents, ingest jobs, users."},
            {"name": "sequence", "description": "Sequence analysis, genome annotation and the report."},
            {"name": "openai", "description": "OpenAI-compatible chat completions."},
            {"name": "ops", "description": "Health, readiness and metrics."},
        ],
    )
    app.state.ctx = ctx

    from agent.api import openai_compat, routes, routes_library, routes_ops, routes_sequence, routes_users

    app.include_router(routes.router, tags=["agent"])
    app.include_router(routes_users.router, tags=["agent"])
    app.include_router(routes_users.public, tags=["agent"])
    app.include_router(routes_library.router, tags=["agent"])
    app.include_router(routes_sequence.router)
    app.include_router(openai_compat.router)
    app.include_router(routes_ops.public)
    install_error_handlers(app, llm_unavailable, ingest_error)

    upload_limit = int(settings.api.max_upload_mb * settings.api.max_upload_files * 2**20) + (1 << 20)  # each file
    # is also checked against max_upload_mb while it streams to disk (agent.api.uploads)
    json_limit = max(8 << 20, settings.api.max_message_chars * 16)

    def limit_for(path: str) -> int:
        return upload_limit if path.startswith("/v1/ingest") else json_limit

    app.add_middleware(
        RequestGuardMiddleware, authenticate=lambda header: authenticate(settings, accounts, header),
        limit_for=limit_for
    )
    # Outermost: sees every response, including the ones the guard answers before routing.
    app.add_middleware(RequestContextMiddleware, metrics=metrics, routes=lambda: app.router.routes)
    return app


def start_metrics_port(settings: Settings, metrics: APIMetrics):
    """``BIOAGENT_API__METRICS_PORT``: the same registry, unauthenticated, on a second port (for pod-internal
    scrapes, e.g. Prometheus' kubernetes-pods job, which cannot send a key). Returns the server (to shut down)."""
    port = settings.api.metrics_port
    if not port:
        return None
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=settings.api.host, registry=metrics.registry)
    log.info("metrics without auth on http://%s:%d/metrics", settings.api.host, port)
    return server
