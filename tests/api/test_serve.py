"""`bioagent serve` as users start it: a subprocess with uvicorn on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.helpers import API_KEY, AUTH, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_bioagent_serve_starts_and_answers(tmp_path):
    port = free_port()
    env = {**os.environ, "BIOAGENT_DATA_DIR": str(tmp_path / "data"), "BIOAGENT_API__API_KEY": API_KEY,
           "PYTHONPATH": str(ROOT)}
    env.pop("BIOAGENT_API__AUTH_DISABLED", None)
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "bioagent serve did not answer /healthz"
            time.sleep(0.2)
        assert httpx.get(f"{url}/v1/models").status_code == 401
        models = httpx.get(f"{url}/v1/models", headers=AUTH)
        assert models.status_code == 200 and models.json()["data"][0]["id"] == "bioagent"
        assert "/v1/chat/completions" in httpx.get(f"{url}/openapi.json").json()["paths"]
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert f"http://127.0.0.1:{port}" in out
