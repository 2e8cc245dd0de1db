"""`bioagent mcp sequence|literature`: start an MCP server over stdio (Claude Desktop) or streamable HTTP."""

from __future__ import annotations

import importlib
import json
import sys
from enum import Enum
from pathlib import Path

import typer

SERVERS = ("sequence", "literature")


def claude_desktop_config(servers: tuple[str, ...] = SERVERS, esm_model: str | None = None) -> dict:
    """Claude Desktop `mcpServers` JSON: this environment's `bioagent` by absolute path, one entry per server."""
    exe = Path(sys.executable).parent / ("bioagent.exe" if sys.platform == "win32" else "bioagent")
    entries: dict = {}
    for name in servers:
        entry: dict = {"command": str(exe.absolute()), "args": ["mcp", name]}
        if name == "sequence" and esm_model:
            p = Path(esm_model).expanduser()
            entry["env"] = {"BIOAGENT_SEQUENCE__ESM_MODEL": str(p.absolute()) if p.exists() else esm_model}
        entries[f"bioagent-{name}"] = entry
    return {"mcpServers": entries}


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

    @mcp_app.command("claude-config")
    def claude_config(
        server: list[str] = typer.Option(list(SERVERS), "--server", help="Servers to include (repeatable)."),
        esm_model: str | None = typer.Option(None, "--esm-model", help="ESM model name or checkpoint path for the "
                                             "sequence server's env."),
    ) -> None:
        """Print the Claude Desktop config (claude_desktop_config.json) for this installation, ready to paste."""
        unknown = [s for s in server if s not in SERVERS]
        if unknown:
            typer.echo(f"error: unknown server(s) {', '.join(unknown)}; choose from {', '.join(SERVERS)}", err=True)
            raise typer.Exit(2)
        typer.echo(json.dumps(claude_desktop_config(tuple(server), esm_model), indent=2))

    app.add_typer(mcp_app, name="mcp")
