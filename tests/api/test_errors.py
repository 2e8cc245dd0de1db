"""Internal errors are 500 with a request id and no stack trace; an unavailable LLM is 503 with its message;
readiness names what is down; metrics come from the trace."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.api.double import ContractService
from tests.api.helpers import API_KEY, AUTH, FixedLatencyChatModel, sse_events

SECRET = "db password is hunter2"


class Boom(RuntimeError):
    pass


def _assert_internal(r: httpx.Response) -> None:
    assert r.status_code == 500, r.text
    body = r.json()
    assert body["error"]["type"] == "internal_error"
    assert body["error"]["request_id"] == r.headers["x-request-id"]
    assert r.headers["x-request-id"] in body["error"]["message"]
    assert SECRET not in r.text and "Traceback" not in r.text and "Boom" not in r.text


def test_internal_error_is_500_with_request_id_and_no_trace(make_server, monkeypatch):
    server = make_server()
    service = server.ctx.service

    async def broken(*args, **kwargs):
        raise Boom(SECRET)

    async def broken_stream(*args, **kwargs):
        raise Boom(SECRET)
        yield  # an async generator that fails at its first step

    monkeypatch.setattr(service, "stream", broken_stream)
    monkeypatch.setattr(service, "history", broken)
    _assert_internal(httpx.post(f"{server.url}/v1/runs", json={"message": "hi"}, headers=AUTH))
    _assert_internal(httpx.get(f"{server.url}/v1/threads/t1", headers=AUTH))
    r = httpx.post(f"{server.url}/v1/runs", json={"message": "hi"}, headers={**AUTH, "X-Request-ID": "my-req-42"})
    _assert_internal(r)
    assert r.json()["error"]["request_id"] == "my-req-42"


def test_failure_mid_stream_is_an_error_event(make_server):
    service = ContractService(FixedLatencyChatModel(), fail_with=Boom(SECRET), fail_after_events=1)
    server = make_server(service=service)
    with httpx.stream("POST", f"{server.url}/v1/runs/stream", json={"message": "hi"}, headers=AUTH) as r:
        assert r.status_code == 200
        events = list(sse_events(r))
    assert [name for name, _ in events] == ["run", "step", "error"]
    data = events[-1][1]["data"]
    assert data["status"] == 500 and data["request_id"] == r.headers["x-request-id"]
    assert SECRET not in json.dumps(events)

    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="bioagent", stream=True,
                                                messages=[{"role": "user", "content": "hi"}]):
            pass


def test_llm_unavailable_is_503_with_the_message(data_dir, kb):
    """The real AgentService with no chat model injected and an LLM endpoint that does not answer."""
    from agent.api import create_app
    from agent.runner import AgentService
    from agent.settings import LLMSettings
    from tests.api.conftest import api_settings
    from tests.api.helpers import LiveServer, free_port

    settings = api_settings(data_dir)
    settings.llm = LLMSettings(base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=2, max_retries=0)
    service = AgentService(settings, knowledge_base=kb, tools=[])
    with LiveServer(create_app(settings, service=service, close_service=True)) as server:
        for path, body in [("/v1/runs", {"message": "hi"}), ("/v1/runs/stream", {"message": "hi"}),
                           ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
                           ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "stream": True})]:
            r = httpx.post(f"{server.url}{path}", json=body, headers=AUTH, timeout=30)
            assert r.status_code == 503, (path, r.text)
            err = r.json()["error"]
            assert err["code"] == "llm_unavailable" and "BIOAGENT_LLM__BASE_URL" in err["message"]
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
        with pytest.raises(openai.InternalServerError, match="not reachable"):
            client.chat.completions.create(model="bioagent", messages=[{"role": "user", "content": "hi"}])
        ready = httpx.get(f"{server.url}/readyz", headers=AUTH, timeout=30)
        assert ready.status_code == 200, "an LLM outage degrades answers; it does not take the replica out"
        assert ready.json()["status"] == "degraded" and ready.json()["degraded"] == ["llm"], ready.text
        metrics = httpx.get(f"{server.url}/metrics", headers=AUTH).text
        assert 'bioagent_runs_total{endpoint="runs",outcome="llm_unavailable"} 1.0' in metrics


def test_readiness_names_what_is_down(make_server):
    readiness = {"llm": {"ok": False, "detail": "connection refused to http://10.0.0.5:30000/v1"},
                 "qdrant": {"ok": True, "detail": "embedded"},
                 "mcp_sequence": {"ok": True, "detail": "stdio"},
                 "mcp_literature": {"ok": False, "detail": "server disabled"}}
    server = make_server(service=ContractService(FixedLatencyChatModel(), readiness=readiness))
    server.ctx.settings.mcp.literature.enabled = False  # a disabled server is not required
    r = httpx.get(f"{server.url}/readyz")
    assert r.status_code == 200 and r.json()["status"] == "degraded", "LLM down: degraded, still in the Service"
    assert r.json()["failing"] == [] and r.json()["degraded"] == ["llm"], "a disabled MCP server is not degraded"
    assert r.json()["checks"]["llm"]["required"] is False
    assert "10.0.0.5" not in r.text, "details only for callers with the key"
    detailed = httpx.get(f"{server.url}/readyz", headers=AUTH).json()
    assert "connection refused" in detailed["checks"]["llm"]["detail"]

    readiness["llm"] = {"ok": True, "detail": "ok"}
    assert httpx.get(f"{server.url}/readyz").json()["status"] == "ready"
    readiness["qdrant"] = {"ok": False, "detail": "store locked"}
    down = httpx.get(f"{server.url}/readyz")
    assert down.status_code == 503 and down.json()["failing"] == ["qdrant"], "no store: not ready"


def test_readiness_of_the_real_service(server):
    r = httpx.get(f"{server.url}/readyz", headers=AUTH)
    assert r.status_code in (200, 503)
    assert {"llm", "qdrant"} <= set(r.json()["checks"])


def test_metrics_come_from_the_trace(server):
    seq = "MPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQGFANFVKKQTFNKVKWYLGARCHIEKAKGTDQQNKEYCSKEGN"
    for body in ({"message": "What does the Rep protein of PCV2 do according to the literature?"},
                 {"message": f"Annotate this Rep protein: {seq}"}):
        assert httpx.post(f"{server.url}/v1/runs", json=body, headers=AUTH, timeout=60).status_code == 200
    httpx.post(f"{server.url}/v1/runs", json={}, headers=AUTH)
    text = httpx.get(f"{server.url}/metrics", headers=AUTH).text

    def value(line_start: str) -> float:
        lines = [ln for ln in text.splitlines() if ln.startswith(line_start)]
        assert lines, f"no {line_start} in /metrics"
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in lines)

    assert value('bioagent_http_requests_total{method="POST",route="/v1/runs",status="200"}') == 2
    assert value('bioagent_http_requests_total{method="POST",route="/v1/runs",status="422"}') == 1
    assert value('bioagent_http_request_duration_seconds_count{method="POST",route="/v1/runs"') == 3
    assert value('bioagent_runs_total{endpoint="runs",outcome="ok"}') == 2
    assert value("bioagent_llm_tokens_total") > 0
    assert value("bioagent_llm_duration_seconds_count") > 0
    assert value('bioagent_node_duration_seconds_count{node="route"}') == 2
    assert value("bioagent_retrieval_duration_seconds_count") >= 1
    assert value('bioagent_tool_calls_total{tool="annotate_rep"}') >= 1
