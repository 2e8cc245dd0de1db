"""`bioagent llm status` and `bioagent llm serve`."""

from __future__ import annotations

import json
import socket
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.llm import list_models
from tests.fixtures.llm import free_port

runner = CliRunner()


def test_status_against_a_running_endpoint(llm_env):
    result = runner.invoke(app, ["llm", "status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mode"] == "remote" and report["endpoint"] == llm_env and report["reachable"]
    assert report["models"] == ["SmolLM2-135M-Instruct.Q4_1"]
    assert report["test_completion"]["ok"]


def test_status_when_the_endpoint_is_down(data_dir, monkeypatch):
    from agent.settings import get_settings

    monkeypatch.setenv("BIOAGENT_LLM__BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    get_settings.cache_clear()
    result = runner.invoke(app, ["llm", "status"])
    assert result.exit_code == 1
    assert "not reachable" in result.output and "BIOAGENT_LLM__BASE_URL" in result.output


def test_serve_runs_in_the_foreground_until_interrupted(data_dir, tmp_path):
    port = free_port()
    log = (tmp_path / "serve.log").open("w")  # a file, not a pipe: the server is chatty and a full pipe blocks it
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "llm", "serve", "--port", str(port), "--n-ctx", "1024"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        models = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                models = list_models(url, timeout=1)
                break
            except Exception:
                time.sleep(0.3)
        assert models == ["SmolLM2-135M-Instruct.Q4_1"]
    finally:
        proc.send_signal(signal.SIGTERM)  # as docker stop / kubernetes do
        proc.wait(timeout=60)
        log.close()
    out = (tmp_path / "serve.log").read_text()
    assert proc.returncode == 0, out  # SIGTERM right after the server answers (even before "ready") is a clean stop
    assert f"llama.cpp server listening on http://127.0.0.1:{port}" in out
    with pytest.raises(OSError):  # and the server child went with it
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_serve_with_a_missing_gguf_exits_with_the_reason(data_dir, tmp_path):
    result = runner.invoke(app, ["llm", "serve", "--gguf", str(tmp_path / "x.gguf"), "--port", str(free_port())])
    assert result.exit_code == 1
    assert "GGUF model file not found" in result.output
