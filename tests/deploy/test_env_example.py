""".env.example lists every setting the app reads, and nothing that is not one."""

from __future__ import annotations

import json
import re

from agent.settings import Settings, iter_settings_rows
from tests.deploy.helpers import ENV_EXAMPLE, env_file_names, env_file_values

# Compose-level variables that happen to start with BIOAGENT_ but are not settings.
COMPOSE_ONLY = {"BIOAGENT_API_KEY", "BIOAGENT_IMAGE"}


def env_value(default) -> str:
    """A default written the way a .env file takes it."""
    if default is None:
        return ""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, (list, dict)):
        return json.dumps(default)
    return str(default)


def test_every_setting_is_listed():
    listed = env_file_names()
    missing = [(var, default, desc) for var, default, desc in iter_settings_rows() if var not in listed]
    hint = "\n".join(f"# {desc}\n# {var}={env_value(default)}" for var, default, desc in missing)
    assert not missing, f".env.example lacks these settings; add them (e.g.):\n{hint}"


def test_no_unknown_bioagent_variables():
    settings = {var for var, _, _ in iter_settings_rows()}
    unknown = {n for n in env_file_names() if n.startswith("BIOAGENT_")} - settings - COMPOSE_ONLY
    assert not unknown, f".env.example names variables that are not settings: {sorted(unknown)}"


def test_documented_defaults_are_valid_values(tmp_path, monkeypatch):
    """Uncommenting every BIOAGENT_ line (with a value) gives settings that load."""
    lines = []
    for m in re.finditer(r"^# (BIOAGENT_[A-Z0-9_]+)=(.+)$", ENV_EXAMPLE.read_text(), re.M):
        if m.group(1) not in COMPOSE_ONLY:
            lines.append(f"{m.group(1)}={m.group(2)}")
    env = tmp_path / ".env"
    env.write_text("\n".join(lines) + "\n")
    for var, _, _ in iter_settings_rows():
        monkeypatch.delenv(var, raising=False)
    settings = Settings(_env_file=env)
    assert settings.llm.parallel == 4
    assert settings.api.upload_types  # a JSON list parses
    assert len(lines) >= 50


def test_shipped_example_loads_as_is(monkeypatch):
    """The file as shipped (set values only: profiles, empty secrets) is a valid .env for bioagent."""
    for var, _, _ in iter_settings_rows():
        monkeypatch.delenv(var, raising=False)
    Settings(_env_file=ENV_EXAMPLE)
    assert set(env_file_values()) >= {"COMPOSE_PROFILES", "QDRANT_API_KEY", "BIOAGENT_API_KEY", "MCP_BEARER_TOKEN"}
