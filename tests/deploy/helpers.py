"""Helpers for the deployment checks: compose interpolation, .env parsing, CLI command resolution."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
K8S = DOCKER / "k8s"
SCHEMA = ROOT / "tests" / "data" / "deploy" / "compose-spec.json"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, $VAR, and $$.
_VAR = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingRequired(Exception):
    """A `${VAR:?message}` whose variable is unset or empty."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-style variable interpolation of one string."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op, arg = m.group("op"), m.group("arg") or ""
        value = env.get(name)
        unset_or_empty = value is None or value == ""
        if op is None:
            return value or ""
        if op == ":-":
            return arg if unset_or_empty else value
        if op == "-":
            return arg if value is None else value
        if op == ":?":
            if unset_or_empty:
                raise MissingRequired(name, arg)
            return value
        if op == "?":
            if value is None:
                raise MissingRequired(name, arg)
            return value
        if op == ":+":
            return "" if unset_or_empty else arg
        return "" if value is None else arg  # "+"

    return _VAR.sub(sub, text)


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    return node


def variables(node: Any) -> set[str]:
    """Every variable name a compose document interpolates."""
    found: set[str] = set()
    if isinstance(node, str):
        for m in _VAR.finditer(node):
            if m.group(0) != "$$":
                found.add(m.group("name") or m.group("bare"))
    elif isinstance(node, list):
        for v in node:
            found |= variables(v)
    elif isinstance(node, dict):
        for v in node.values():
            found |= variables(v)
    return found


def load_raw_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def env_file_values(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """The uncommented KEY=VALUE lines of a dotenv file (what compose reads as --env-file)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def env_file_names(path: Path = ENV_EXAMPLE) -> set[str]:
    """Every variable a dotenv file names, set (`VAR=...`) or documented (`# VAR=...`)."""
    pattern = re.compile(r"^\s*#?\s*([A-Z_][A-Z0-9_]*)=", re.M)
    return set(pattern.findall(path.read_text()))


def required_variables(node: Any) -> set[str]:
    """Variables written as `${VAR:?...}` / `${VAR?...}`."""
    found: set[str] = set()
    if isinstance(node, str):
        for m in _VAR.finditer(node):
            if m.group("op") in (":?", "?"):
                found.add(m.group("name"))
    elif isinstance(node, list):
        for v in node:
            found |= required_variables(v)
    elif isinstance(node, dict):
        for v in node.values():
            found |= required_variables(v)
    return found


def deployed_env() -> dict[str, str]:
    """.env.example's values with the required secrets filled in, as a user's `.env` would be."""
    env = env_file_values()
    for name in required_variables(load_raw_compose()):
        if not env.get(name):
            env[name] = f"test-{name.lower()}"
    return env


def load_compose() -> dict:
    return interpolate_tree(load_raw_compose(), deployed_env())


def command_argv(command: str | list[str]) -> list[str]:
    """A compose `command` (string: shell-like split, as compose does; or a list)."""
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def resolve_cli(argv: list[str]) -> click.Command:
    """Parse ``bioagent ...`` with the real Typer app without running it; raises click errors on a mismatch."""
    import typer

    from agent.cli import app

    assert argv and argv[0] == "bioagent", f"not a bioagent command: {argv}"
    command: click.Command = typer.main.get_command(app)
    args = list(argv[1:])
    name = "bioagent"
    while isinstance(command, click.Group):
        assert args, f"{' '.join(argv)}: `{name}` needs a subcommand"
        ctx = click.Context(command, info_name=name)
        name = args.pop(0)
        sub = command.get_command(ctx, name)
        if sub is None:
            raise click.UsageError(f"{' '.join(argv)}: no command `{name}` (known: {command.list_commands(ctx)})")
        command = sub
    command.make_context(name, args)  # checks options, their values and arguments
    return command
