"""The `bioagent` command line. Each area registers its own commands; this module only assembles them."""

from __future__ import annotations

import importlib
import json
import logging

import typer
from pydantic import ValidationError

from agent.settings import get_settings, iter_settings_rows

app = typer.Typer(
    name="bioagent",
    help="A cited, checkable research assistant for viral proteins (CRESS-DNA viruses and their Rep proteins).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Modules that expose `register(app: typer.Typer) -> None`.
COMMAND_MODULES = [
    "agent.kb.cli",  # ingest, search, kb
    "mcp_servers.sequence.cli",  # seq
    "mcp_servers.literature.cli",  # lit
    "mcp_servers.cli",  # mcp sequence|literature
    "agent.llm.cli",  # llm
    "agent.ask_cli",  # ask, report
    "agent.api.cli",  # serve
    "ui.cli",  # ui
    "evals.cli",  # eval
]


@app.command("config")
def config_cmd(
    markdown: bool = typer.Option(False, "--markdown", help="Print the settings table for the README."),
    json_out: bool = typer.Option(False, "--json", help="Print the effective settings as JSON."),
) -> None:
    """Show every setting (environment variable, default, meaning) or the effective values."""
    if markdown:
        typer.echo("| Variable | Default | Meaning |\n|---|---|---|")
        for var, default, desc in iter_settings_rows():
            shown = "" if default is None else f"`{default}`"
            typer.echo(f"| `{var}` | {shown} | {desc} |")
        return
    settings = get_settings()
    if json_out:
        typer.echo(json.dumps(json.loads(settings.model_dump_json()), indent=2))
        return
    for var, _default, _desc in iter_settings_rows():
        keys = var.removeprefix("BIOAGENT_").lower().split("__")
        value = settings
        for key in keys:
            value = getattr(value, key)
        typer.echo(f"{var}={value}")


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an area not built yet: its commands are simply absent
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(app)


_register_all()


def _settings_error(exc: ValidationError) -> str:
    lines = ["Invalid bioagent setting(s):"]
    for err in exc.errors():
        var = "BIOAGENT_" + "__".join(str(p).upper() for p in err["loc"])
        lines.append(f"  {var}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def main() -> None:
    try:
        level = get_settings().log_level.upper()
    except ValidationError as exc:
        typer.echo(_settings_error(exc), err=True)
        raise SystemExit(2) from None
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
