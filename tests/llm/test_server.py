"""The embedded llama.cpp server: start/stop, reuse, and the errors a user can run into."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from agent.llm import LLMUnavailable, LocalLLMServer, bundled_gguf, list_models, resolve_gguf
from tests.fixtures.llm import free_port


def test_bundled_gguf_is_the_smollm2_file():
    path = bundled_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    assert resolve_gguf(None) == path


def test_start_serves_and_stop_frees_the_port(tmp_path):
    port = free_port()
    server = LocalLLMServer(port=port, n_ctx=1024, log_path=tmp_path / "server.log")
    with server:
        assert server.running and not server.reused and server.pid
        assert server.url == f"http://127.0.0.1:{port}/v1"
        assert server.health()
        assert list_models(server.url) == ["SmolLM2-135M-Instruct.Q4_1"]
        assert "llama.cpp server listening on" in server.logs(500)  # the log file receives the server's output
        pid = server.pid
    assert not server.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(ProcessLookupError):  # the process is gone (reaped, not a zombie we still hold)
        os.kill(pid, 0)


def test_temporary_log_is_removed_after_a_clean_stop():
    server = LocalLLMServer(port=free_port(), n_ctx=1024).start()
    log = server.log_path
    assert log is not None and log.exists()
    server.stop()
    assert not log.exists()


def test_reuses_a_server_that_already_serves_the_same_gguf(llm_server):
    port = int(llm_server.rsplit(":", 1)[1].split("/")[0])
    other = LocalLLMServer(port=port).start()
    assert other.reused and other.pid is None and other.url == llm_server
    other.stop()  # leaves the session server running
    assert list_models(llm_server)


def test_refuses_a_busy_port_when_reuse_is_off(llm_server):
    port = int(llm_server.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(LLMUnavailable, match="already in use by a llama.cpp server"):
        LocalLLMServer(port=port).start(reuse=False)


def test_missing_gguf_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope" / "model.gguf"
    with pytest.raises(LLMUnavailable) as err:
        LocalLLMServer(missing)
    msg = str(err.value)
    assert "GGUF model file not found" in msg and str(missing) in msg and "BIOAGENT_LLM__GGUF_PATH" in msg


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path):
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(LLMUnavailable, match="not a GGUF model file"):
        LocalLLMServer(bogus)


@pytest.fixture
def foreign_http_server():
    """A plain HTTP server (python -m http.server) on a free port: in use, but not llama.cpp."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_port_used_by_another_program_is_a_clear_error(foreign_http_server):
    with pytest.raises(LLMUnavailable) as err:
        LocalLLMServer(port=foreign_http_server).start()
    msg = str(err.value)
    assert f"127.0.0.1:{foreign_http_server}" in msg
    assert "not a llama.cpp server" in msg and "BIOAGENT_LLM__LOCAL_PORT" in msg


def test_port_held_by_a_silent_listener_is_a_clear_error():
    with socket.socket() as sock:  # accepts connections (backlog) but never answers HTTP
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port = sock.getsockname()[1]
        with pytest.raises(LLMUnavailable, match="not a llama.cpp server"):
            LocalLLMServer(port=port).start()


def test_parallel_slots_answer_health_probes_while_four_questions_generate(llm_server):
    """4 concurrent questions are served in parallel, and readiness probes keep answering meanwhile.

    The old single-slot server (llama-cpp-python) queued the probes behind the generation and /readyz
    reported the LLM down; llama.cpp's own server has parallel slots and an HTTP thread pool.
    """
    import concurrent.futures as cf

    body = {"model": "SmolLM2-135M-Instruct.Q4_1", "max_tokens": 48, "temperature": 0.0}

    def ask(i: int) -> int:
        msg = [{"role": "user", "content": f"Write one sentence about virus number {i}."}]
        r = httpx.post(f"{llm_server}/chat/completions", json={**body, "messages": msg}, timeout=180)
        return r.status_code

    probes: list[float] = []
    with cf.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(ask, i) for i in range(4)]
        while not all(f.done() for f in futures):
            t0 = time.perf_counter()
            assert list_models(llm_server, timeout=2.0) == ["SmolLM2-135M-Instruct.Q4_1"]
            probes.append(time.perf_counter() - t0)
            time.sleep(0.2)
        assert [f.result() for f in futures] == [200] * 4
    assert probes, "the questions finished before a single probe ran"
    assert max(probes) < 2.0


def test_server_process_command_runs_llama_main_with_parallel_slots(tmp_path):
    server = LocalLLMServer(port=free_port(), parallel=3, n_ctx=2048)
    cmd = server.command()
    assert cmd[1:3] == ["-m", "agent.llm.llama_main"]
    assert cmd[cmd.index("--parallel") + 1] == "3" and cmd[cmd.index("--n-ctx") + 1] == "2048"


def test_bundled_model_is_served_with_the_tools_template_and_a_given_gguf_with_its_own():
    from agent.llm.server import TOOLS_TEMPLATE

    bundled = LocalLLMServer(port=free_port())
    assert bundled.chat_template == str(TOOLS_TEMPLATE)
    assert bundled.command()[-2:] == ["--chat-template", str(TOOLS_TEMPLATE)]
    own = LocalLLMServer(bundled_gguf(), port=free_port())  # a GGUF given explicitly keeps its own template
    assert own.chat_template is None and "--chat-template" not in own.command()
