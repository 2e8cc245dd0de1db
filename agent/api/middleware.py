"""Pure ASGI middleware: request ids, request metrics, the last-resort 500, and the upload body limit.

Pure ASGI (not ``BaseHTTPMiddleware``) so that streaming responses pass straight through and a client
disconnect still reaches the endpoint.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.api.errors import error_body
from agent.api.metrics import APIMetrics

log = logging.getLogger("agent.api")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


async def _send_json(send: Send, status: int, body: dict, request_id: str | None, extra_headers=()) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


class RequestContextMiddleware:
    """Give each request an id (``X-Request-ID``, taken from the client when it is a safe token), count it in
    the metrics by route template and status, and turn any unhandled exception into a 500 that carries the
    request id and no stack trace (the trace goes to the log, with the id)."""

    def __init__(self, app: ASGIApp, metrics: APIMetrics, routes: Callable[[], list] | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None and self.routes is not None:  # answered before routing (401, 413): match it here
            from starlette.routing import Match

            for candidate in self.routes():
                try:
                    match, _ = candidate.matches(scope)
                except Exception:  # pragma: no cover - a route that cannot match this scope
                    continue
                if match != Match.NONE:
                    route = candidate
                    break
        return getattr(route, "path", None) or "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("Unhandled error (request %s %s %s)", request_id, scope.get("method"), scope.get("path"))
            status = 500
            if not response_started:
                body = error_body(
                    "internal_error",
                    f"Internal server error. Quote request id {request_id} when reporting it.",
                    request_id=request_id,
                    code="internal_error",
                )
                await _send_json(send, 500, body, request_id)
        finally:
            self.metrics.observe_request(
                scope.get("method", "?"), self._template(scope), status, time.perf_counter() - started
            )


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes the limit; FastAPI re-raises HTTPExceptions from body parsing,
    so the app's handler answers 413 (the middleware answers it itself if it escapes)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message, headers={"Connection": "close"})


class RequestGuardMiddleware:
    """Checks made before a request body is read, so that nobody makes the server read or spool a body it will
    refuse:

    - ``/v1/...`` without a valid bearer key: 401 (the route's own auth dependency checks again and documents
      the scheme in OpenAPI);
    - a body over its limit (``limit_for(path)`` bytes): 413 by ``Content-Length`` up front, or as soon as a
      chunked body passes the limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticate: Callable[[str | None], Any],
        limit_for: Callable[[str], int],
        protected_prefix: str = "/v1/",
        public_paths: frozenset[str] = frozenset({"/v1/auth/token"}),
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.public_paths = public_paths
        self.limit_for = limit_for
        self.protected_prefix = protected_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        request_id = scope.get("state", {}).get("request_id")
        headers = dict(scope.get("headers", []))
        if path.startswith(self.protected_prefix) and path not in self.public_paths:
            raw = headers.get(b"authorization")
            user = self.authenticate(raw.decode("latin-1") if raw is not None else None)
            scope.setdefault("state", {})["user"] = user
            if user is None:
                message = "Missing or invalid API key: send `Authorization: Bearer <key>`."
                body = error_body("authentication_error", message, request_id=request_id, code="invalid_api_key")
                await _send_json(send, 401, body, request_id, extra_headers=[(b"www-authenticate", b"Bearer")])
                return
        max_bytes = self.limit_for(path)
        message = f"Request body larger than {max_bytes / 2**20:.1f} MiB."
        too_large = error_body("request_too_large", message, request_id=request_id, code="request_too_large")
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size > max_bytes:
                await _send_json(send, 413, too_large, request_id, extra_headers=[(b"connection", b"close")])
                return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(message)
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal response_started
            if msg["type"] == "http.response.start":
                response_started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await _send_json(send, 413, too_large, request_id, extra_headers=[(b"connection", b"close")])
