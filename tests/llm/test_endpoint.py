"""ensure_endpoint and chat_model: remote endpoints, the embedded default, settings and overrides."""

from __future__ import annotations

import httpx

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import agent.llm as llm
from agent.events import RunOverrides
from agent.llm import LLMUnavailable, chat_model, ensure_endpoint, normalize_base_url
from agent.settings import Settings
from tests.fixtures.llm import free_port


def make_settings(data_dir, **llm_fields) -> Settings:
    return Settings(data_dir=data_dir, llm=llm_fields)


def test_normalize_base_url():
    assert normalize_base_url("http://h:30000") == "http://h:30000/v1"
    assert normalize_base_url("http://h:30000/") == "http://h:30000/v1"
    assert normalize_base_url("http://h:30000/v1/") == "http://h:30000/v1"
    assert normalize_base_url(" https://example.org/openai/v1 ") == "https://example.org/openai/v1"


def test_unreachable_base_url_says_what_to_start_or_set(data_dir):
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMUnavailable) as err:
        ensure_endpoint(make_settings(data_dir, base_url=url))
    msg = str(err.value)
    assert url in msg and "not reachable" in msg
    assert "sglang.launch_server" in msg and "--tool-call-parser qwen25" in msg
    assert "BIOAGENT_LLM__BASE_URL" in msg


def test_chat_model_raises_the_same_error(data_dir):
    with pytest.raises(LLMUnavailable, match="not reachable"):
        chat_model(make_settings(data_dir, base_url=f"http://127.0.0.1:{free_port()}"))


class _Status(BaseHTTPRequestHandler):
    status = 401

    def do_GET(self):  # noqa: N802
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def status_server():
    servers = []

    def start(status: int) -> str:
        handler = type("H", (_Status,), {"status": status})
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/v1"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def test_rejected_api_key_names_the_setting(data_dir, status_server):
    with pytest.raises(LLMUnavailable, match="rejected the API key .*BIOAGENT_LLM__API_KEY"):
        ensure_endpoint(make_settings(data_dir, base_url=status_server(401)))


def test_a_server_that_is_not_openai_compatible(data_dir, status_server):
    with pytest.raises(LLMUnavailable, match="HTTP 404, so it is not an OpenAI-compatible"):
        ensure_endpoint(make_settings(data_dir, base_url=status_server(404)))


def test_reachable_base_url_is_returned_normalized(data_dir, llm_server):
    root = llm_server.removesuffix("/v1")
    assert ensure_endpoint(make_settings(data_dir, base_url=root)) == llm_server


def test_chat_model_takes_settings_and_overrides(data_dir, llm_server):
    settings = make_settings(
        data_dir, base_url=llm_server, model="qwen", api_key="k", temperature=0.3, top_p=0.8,
        max_tokens=99, timeout_s=12.5, max_retries=4,
    )  # fmt: skip
    m = chat_model(settings)
    assert (m.openai_api_base, m.model_name, m.openai_api_key.get_secret_value()) == (llm_server, "qwen", "k")
    assert (m.temperature, m.top_p, m.max_tokens, m.max_retries) == (0.3, 0.8, 99, 4)
    # an httpx.Timeout, so each model gets its own HTTP clients (not langchain-openai's process-wide cached ones,
    # whose pooled connections break once the event loop that opened them is closed)
    assert m.request_timeout == httpx.Timeout(12.5)
    assert chat_model(settings).root_async_client._client is not m.root_async_client._client
    o = chat_model(settings, RunOverrides(temperature=0.0, top_p=0.5, max_tokens=7))
    assert (o.temperature, o.top_p, o.max_tokens) == (0.0, 0.5, 7)
    payload = o._get_request_payload([("user", "hi")])
    assert payload["max_tokens"] == payload["max_completion_tokens"] == 7  # llama.cpp reads max_tokens


def test_embedded_server_is_started_once_and_stopped(data_dir):
    port = free_port()
    settings = make_settings(data_dir, local_port=port, n_ctx=1024)
    try:
        url = ensure_endpoint(settings)
        assert url == f"http://127.0.0.1:{port}/v1"
        server = llm._embedded[("127.0.0.1", port)]
        pid = server.pid
        assert ensure_endpoint(settings) == url and server.pid == pid  # reused within the process
        m = chat_model(settings)
        assert m.model_name == "SmolLM2-135M-Instruct.Q4_1"  # the served model, named in traces
        assert (data_dir / "logs" / f"llama-server-{port}.log").exists()
    finally:
        llm.stop_embedded()
    assert ("127.0.0.1", port) not in llm._embedded
    with pytest.raises(LLMUnavailable, match="not reachable"):
        ensure_endpoint(make_settings(data_dir, base_url=url))


def test_embedded_server_restarts_after_it_died(data_dir):
    port = free_port()
    settings = make_settings(data_dir, local_port=port, n_ctx=1024)
    try:
        ensure_endpoint(settings)
        server = llm._embedded[("127.0.0.1", port)]
        first = server.pid
        server.stop()
        llm._checked.clear()
        ensure_endpoint(settings)
        assert llm._embedded[("127.0.0.1", port)].pid not in (None, first)
    finally:
        llm.stop_embedded()


def test_embedded_with_missing_gguf_setting(data_dir, tmp_path):
    settings = make_settings(data_dir, gguf_path=str(tmp_path / "missing.gguf"), local_port=free_port())
    with pytest.raises(LLMUnavailable, match="GGUF model file not found"):
        ensure_endpoint(settings)


def test_embedded_server_follows_a_changed_gguf_setting(data_dir, tmp_path):
    port = free_port()
    copy = tmp_path / "copy-of-smollm2.gguf"
    copy.write_bytes(llm.bundled_gguf().read_bytes())
    try:
        ensure_endpoint(make_settings(data_dir, local_port=port, n_ctx=1024))
        first = llm._embedded[("127.0.0.1", port)]
        ensure_endpoint(make_settings(data_dir, local_port=port, n_ctx=1024, gguf_path=str(copy)))
        second = llm._embedded[("127.0.0.1", port)]
        assert second is not first and not first.running
        assert llm.list_models(second.url) == ["copy-of-smollm2"]
    finally:
        llm.stop_embedded()
