"""`bioagent ui`: the Streamlit command it runs (headless, local, no telemetry) and the settings it passes on.
(The browser test runs the real command end to end.)"""

from __future__ import annotations

import subprocess

from typer.testing import CliRunner

from ui import cli as ui_cli


class _Proc:
    def __init__(self, cmd, env):
        self.cmd, self.env, self.returncode = cmd, env, 0

    def wait(self, timeout=None):
        return 0

    def poll(self):
        return 0


def _run(monkeypatch, args):
    from agent.cli import app

    seen = {}

    def popen(cmd, env=None, **_):
        seen["proc"] = _Proc(cmd, env)
        return seen["proc"]

    monkeypatch.setattr(subprocess, "Popen", popen)
    result = CliRunner().invoke(app, ["ui", *args])
    return result, seen.get("proc")


def test_ui_runs_streamlit_headless_on_the_given_port(monkeypatch, settings):
    result, proc = _run(monkeypatch, ["--port", "8642"])
    assert result.exit_code == 0, result.output
    cmd = proc.cmd
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("ui/app.py")
    for flag in ("--server.headless=true", "--server.port=8642", "--server.address=127.0.0.1",
                 "--browser.gatherUsageStats=false"):
        assert flag in cmd
    assert "BIOAGENT_UI__API_URL" not in proc.env or not proc.env["BIOAGENT_UI__API_URL"]
    assert "in-process core" in result.output


def test_ui_api_url_and_key_reach_the_app(monkeypatch, settings):
    monkeypatch.delenv("BIOAGENT_UI__API_KEY", raising=False)
    result, proc = _run(monkeypatch, ["--api-url", "http://127.0.0.1:8000", "--api-key", "k-123"])
    assert result.exit_code == 0, result.output
    assert proc.env["BIOAGENT_UI__API_URL"] == "http://127.0.0.1:8000"
    assert proc.env["BIOAGENT_UI__API_KEY"] == "k-123"
    assert "--server.port=8501" in proc.cmd


def test_make_client_follows_the_settings(settings):
    from ui.client import HTTPBackend, InProcessBackend, make_client

    client = make_client(settings)
    try:
        assert isinstance(client.backend, InProcessBackend)
    finally:
        client.close()
    settings.ui.api_url = "http://127.0.0.1:8000"
    client = make_client(settings)
    try:
        assert isinstance(client.backend, HTTPBackend) and client.label == "API http://127.0.0.1:8000"
    finally:
        client.close()


def test_help_lists_the_options():
    from agent.cli import app

    out = CliRunner().invoke(app, ["ui", "--help"]).output
    for option in ("--port", "--host", "--api-url", "--api-key"):
        assert option in out
    assert ui_cli.APP.name == "app.py"
