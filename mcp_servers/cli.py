"""`bioagent mcp sequence|literature`: start an MCP server over stdio (Claude Desktop) or streamable HTTP."""

from __future__ import annotations

import importlib
from enum import Enum

import typer


class Transport(str, Enum):
    stdio = "stdio"
    http = "http"


def _serve(module: str, transport: Transport, host: str | None, port: int | None) -> None:
    server = importlib.import_module(module)
    server.main(transport=transport.value, host=host, port=port)


def register(app: typer.Typer) -> None:
    mcp_app = typer.Typer(help="Run bioagent's MCP tool servers.", no_args_is_help=True)

    @mcp_app.command("sequence")
    def sequence(
        transport: Transport = typer.Option(Transport.stdio, help="stdio for Claude Desktop, http for agents."),
        host: str | None = typer.Option(None, help="HTTP bind host (default: BIOAGENT_MCP__HOST)."),
        port: int | None = typer.Option(None, help="HTTP bind port (default: BIOAGENT_MCP__PORT)."),
    ) -> None:
        """Sequence analysis: parsing, properties, ESM-2 mutation effects and scans, Rep annotation."""
        _serve("mcp_servers.sequence.server", transport, host, port)

    @mcp_app.command("literature")
    def literature(
        transport: Transport = typer.Option(Transport.stdio, help="stdio for Claude Desktop, http for agents."),
        host: str | None = typer.Option(None, help="HTTP bind host (default: BIOAGENT_MCP__HOST)."),
        port: int | None = typer.Option(None, help="HTTP bind port (default: BIOAGENT_MCP__PORT)."),
    ) -> None:
        """Literature: the local library, PubMed and Europe PMC."""
        _serve("mcp_servers.literature.server", transport, host, port)

    app.add_typer(mcp_app, name="mcp")
