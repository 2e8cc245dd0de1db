"""Bearer-key authentication, the refusal to start without a key, and the probe/metrics policy."""

from __future__ import annotations

import httpx
import openai
import pytest
from typer.testing import CliRunner

from agent.settings import APISettings, Settings
from tests.api.helpers import API_KEY, AUTH


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {API_KEY}"},
                                     {"Authorization": API_KEY}])
def test_v1_needs_the_key(server, headers):
    for method, path, body in [("POST", "/v1/runs", {"message": "hi"}), ("POST", "/v1/runs/stream", {"message": "hi"}),
                               ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
                               ("GET", "/v1/models", None), ("GET", "/v1/threads/t1", None),
                               ("POST", "/v1/sequence/report", {"sequence": "MKV"}), ("POST", "/v1/ingest", None)]:
        r = httpx.request(method, f"{server.url}{path}", json=body, headers=headers)
        assert r.status_code == 401, (path, r.status_code, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        err = r.json()["error"]
        assert err["type"] == "authentication_error" and err["request_id"] == r.headers["x-request-id"]


def test_openai_client_with_a_wrong_key_gets_authentication_error(server):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="bioagent", messages=[{"role": "user", "content": "hi"}])
    assert "API key" in str(info.value)


def test_probes_are_open_and_metrics_need_the_key(server):
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    anonymous = httpx.get(f"{server.url}/readyz")
    assert anonymous.status_code in (200, 503)
    assert all(c["detail"] is None for c in anonymous.json()["checks"].values()), "details only with the key"
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    r = httpx.get(f"{server.url}/metrics", headers=AUTH)
    assert r.status_code == 200 and "bioagent_http_requests_total" in r.text


def test_public_metrics_setting(make_server):
    server = make_server(metrics_public=True)
    assert httpx.get(f"{server.url}/metrics").status_code == 200
    assert httpx.get(f"{server.url}/v1/models").status_code == 401


def test_auth_disabled_explicitly(make_server):
    server = make_server(api_key=None, auth_disabled=True)
    r = httpx.post(f"{server.url}/v1/runs", json={"message": "What is a Rep protein?"}, timeout=30)
    assert r.status_code == 200, r.text
    assert httpx.get(f"{server.url}/metrics").status_code == 200


def test_no_key_refuses_to_start(tmp_path):
    from agent.api import create_app
    from agent.api.auth import AuthConfigError

    for api in (APISettings(), APISettings(api_key="   ")):
        with pytest.raises(AuthConfigError, match="BIOAGENT_API__API_KEY.*BIOAGENT_API__AUTH_DISABLED"):
            create_app(Settings(data_dir=tmp_path, api=api), service=object())


def test_serve_without_a_key_exits_with_a_clear_message(monkeypatch, data_dir):
    from agent.cli import app
    from agent.settings import get_settings

    monkeypatch.delenv("BIOAGENT_API__API_KEY", raising=False)
    monkeypatch.delenv("BIOAGENT_API__AUTH_DISABLED", raising=False)
    monkeypatch.chdir(data_dir.parent)  # no stray .env
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "BIOAGENT_API__API_KEY" in result.output and "BIOAGENT_API__AUTH_DISABLED" in result.output


def test_metrics_scrape_token_and_separate_port(make_server):
    from tests.api.helpers import free_port

    port = free_port()
    server = make_server(metrics_token="scrape-0123456789", metrics_port=port)
    token = {"Authorization": "Bearer scrape-0123456789"}
    assert httpx.get(f"{server.url}/metrics", headers=token).status_code == 200
    assert httpx.get(f"{server.url}/v1/models", headers=token).status_code == 401, "the scrape token is no API key"
    assert httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200 and "bioagent_runs_in_progress" in r.text


def test_a_user_key_is_no_metrics_key(make_server, data_dir):
    from agent.api.accounts import AccountStore

    server = make_server()
    key = server.ctx.accounts.add_user("dora")
    assert isinstance(server.ctx.accounts, AccountStore)
    assert httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert httpx.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
