"""Transports shared by bioagent's MCP servers: stdio (protected from stray prints) and streamable HTTP
behind an optional bearer token."""

from __future__ import annotations

import hmac
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from agent.settings import Settings, get_settings

log = logging.getLogger(__name__)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class BearerTokenMiddleware:
    """ASGI middleware: HTTP requests must carry ``Authorization: Bearer <token>``; otherwise 401."""

    def __init__(self, app, token: str, realm: str = "bioagent"):
        self.app = app
        self._token = token.encode("utf-8")
        self._realm = realm

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = b""
        for name, value in scope.get("headers") or []:
            if name.lower() == b"authorization":
                given = value
                break
        scheme, _, token = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._token):
            return await self.app(scope, receive, send)
        body = json.dumps(
            {"error": "unauthorized", "detail": "missing or wrong bearer token (Authorization: Bearer <token>)"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", f'Bearer realm="{self._realm}"'.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def http_app(server, settings: Settings, realm: str):
    """The streamable-HTTP ASGI app of a FastMCP server (endpoint ``/mcp``), behind the token when one is set."""
    app = server.streamable_http_app()
    token = settings.mcp.bearer_token.get_secret_value() if settings.mcp.bearer_token else ""
    return BearerTokenMiddleware(app, token, realm) if token else app


def run_stdio(server) -> None:
    """Serve over stdio, with fd 1 pointed at stderr so stray prints from libraries cannot corrupt the protocol."""
    from io import TextIOWrapper

    import anyio
    from mcp.server.stdio import stdio_server

    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = anyio.wrap_file(TextIOWrapper(os.fdopen(protocol_fd, "wb"), encoding="utf-8"))

    async def serve() -> None:
        async with stdio_server(stdout=out) as (read_stream, write_stream):
            low = server._mcp_server
            await low.run(read_stream, write_stream, low.create_initialization_options())

    anyio.run(serve)


def serve(
    build_server: Callable[..., Any],
    name: str,
    transport: str = "stdio",
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Run an MCP server: ``stdio`` (default) or ``http`` (streamable HTTP, optional bearer token)."""
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    if transport == "stdio":
        run_stdio(build_server(settings))
        return
    if transport not in ("http", "streamable-http"):
        raise SystemExit(f"unknown transport {transport!r}: use stdio or http")
    import uvicorn

    host = host or settings.mcp.host
    port = port or settings.mcp.port
    if not settings.mcp.bearer_token and host not in LOCAL_HOSTS:
        log.warning("serving MCP on %s without a bearer token (set BIOAGENT_MCP__BEARER_TOKEN)", host)
    app = http_app(build_server(settings, host=host, port=port), settings, realm=name)
    print(f"{name} MCP server: http://{host}:{port}/mcp", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())


def module_main(build_server: Callable[..., Any], name: str, argv: list[str] | None = None) -> None:
    """``python -m mcp_servers.<name>.server [--transport stdio|http] [--host H] [--port P]``."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m mcp_servers.{name}.server", description=f"{name} MCP server")
    parser.add_argument("--transport", default="stdio", choices=["stdio", "http"])
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    serve(build_server, f"bioagent-{name}", args.transport, args.host, args.port)
