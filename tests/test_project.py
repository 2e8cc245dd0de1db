"""Project-level checks: the README's commands are the ones CI runs, and every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _first_screen_commands() -> list[str]:
    first_block = re.search(r"```(?:bash|sh)\n(.*?)```", _readme(), re.S)
    assert first_block, "README must open with a shell block holding the two fresh-machine commands"
    return [line for line in first_block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_one():
    commands = _first_screen_commands()
    assert len(commands) == 2, commands
    setup_and_run, setup_and_test = commands
    assert "bioagent" in setup_and_run and "pytest" in setup_and_test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert setup_and_test in ci.splitlines(), "CI must call the README's test command verbatim"
    # The first screen: both commands come before the README's 25th line.
    head = "\n".join(_readme().splitlines()[:25])
    assert setup_and_run in head and setup_and_test in head


def test_readme_settings_table_lists_every_setting_with_its_default():
    from agent.cli import app

    table = CliRunner().invoke(app, ["config", "--markdown"]).output.strip()
    assert table.count("\n") > 40
    assert table in _readme(), "README settings table is stale: paste `bioagent config --markdown`"


def test_config_json_reflects_environment(monkeypatch, tmp_path):
    from agent.cli import app
    from agent.settings import get_settings

    monkeypatch.setenv("BIOAGENT_LLM__TEMPERATURE", "0.7")
    monkeypatch.setenv("BIOAGENT_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["config", "--json"]).output
    finally:
        get_settings.cache_clear()
    assert '"temperature": 0.7' in out and str(tmp_path) in out


def test_bad_setting_is_a_clear_error(monkeypatch):
    import pydantic

    from agent.settings import Settings

    monkeypatch.setenv("BIOAGENT_LLM__TOP_P", "7")
    try:
        Settings()
    except pydantic.ValidationError as exc:
        assert "llm.top_p" in str(exc) or "top_p" in str(exc)
    else:
        raise AssertionError("top_p=7 must be rejected")
