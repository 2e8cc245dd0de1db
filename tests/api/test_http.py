"""The API over a real socket: the openai client (streaming and not), SSE read by httpx, threads, disconnects,
concurrency. The service is the real AgentService; only the chat model is a fake."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

from agent.events import RunResult, TraceEvent
from tests.api.helpers import API_KEY, AUTH, FixedLatencyChatModel, sse_events


def _client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, timeout=30)


def test_openai_client_non_streaming(server):
    client = _client(server)
    models = client.models.list()
    assert [m.id for m in models.data] == ["bioagent"]

    reply = client.chat.completions.create(
        model="bioagent", messages=[{"role": "system", "content": "be brief"},
                                    {"role": "user", "content": "What does the Rep protein of PCV2 do?"}],
        temperature=0.2,
    )
    assert reply.object == "chat.completion"
    answer = reply.choices[0].message.content
    assert answer and reply.choices[0].finish_reason == "stop"
    run = RunResult.model_validate(reply.model_extra["bioagent"])
    assert run.answer == answer and run.thread_id
    assert run.question == "What does the Rep protein of PCV2 do?"
    nodes = [e.node for e in run.trace if e.type == "step"]
    assert nodes[0] == "route" and "answer" in nodes
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0


def test_openai_client_streaming(make_server):
    server = make_server(model=FixedLatencyChatModel(latency_s=0.01, token_delay_s=0.02))
    stream = _client(server).chat.completions.create(
        model="bioagent", messages=[{"role": "user", "content": "Tell me about CRESS-DNA viruses."}],
        stream=True, stream_options={"include_usage": True}, extra_body={"stream_draft": True},
    )
    pieces, finals, usage, arrivals = [], [], None, []
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        if choice.delta.content:
            pieces.append(choice.delta.content)
            arrivals.append(time.perf_counter())
        if choice.finish_reason:
            finals.append(chunk)
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == "stop"
    run = RunResult.model_validate(finals[0].model_extra["bioagent"])
    content = "".join(pieces)
    # The model's draft streams as it is generated; the reader always ends with the checked answer.
    assert content.startswith(FixedLatencyChatModel().answer)
    assert content.endswith(run.answer)
    assert len(pieces) > 5, "the answer arrives as several deltas"
    assert arrivals[-2] - arrivals[0] > 0.05, "tokens are sent as they are produced, not all at the end"
    assert usage is not None and usage.total_tokens > 0
    assert any(e.type == "step" and e.node == "answer" for e in run.trace)


def test_openai_streamed_content_is_the_non_streamed_content(server):
    """By default the streamed content is exactly what the non-streamed call returns: the checked answer."""
    messages = [{"role": "user", "content": "Tell me about CRESS-DNA viruses."}]
    stream = _client(server).chat.completions.create(model="bioagent", messages=messages, stream=True)
    pieces, result = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            result = chunk.model_extra["bioagent"]
    whole = _client(server).chat.completions.create(model="bioagent", messages=messages)
    assert result is not None and "".join(pieces) == result["answer"] == whole.choices[0].message.content
    assert len(pieces) > 1, "sent in pieces"
    assert "Checked answer" not in "".join(pieces)
    assert result["trace"] and whole.model_extra["bioagent"]["trace"], "the trace stays in the bioagent field"


def test_thread_continues_over_openai_and_history_endpoint(server):
    client = _client(server)
    first = client.chat.completions.create(
        model="bioagent", messages=[{"role": "user", "content": "What is a Rep protein?"}],
        extra_body={"thread_id": "conv-1"})
    assert first.model_extra["bioagent"]["thread_id"] == "conv-1"
    second = client.chat.completions.with_raw_response.create(
        model="bioagent", messages=[{"role": "user", "content": "And what about its helicase domain?"}],
        extra_headers={"X-Thread-Id": "conv-1"})
    assert second.headers["x-thread-id"] == "conv-1"

    r = httpx.get(f"{server.url}/v1/threads/conv-1", headers=AUTH)
    assert r.status_code == 200
    messages = r.json()["messages"]
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert users == ["What is a Rep protein?", "And what about its helicase domain?"]
    assert any(m["role"] == "assistant" for m in messages)

    missing = httpx.get(f"{server.url}/v1/threads/no-such-thread", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "thread_not_found"


def test_runs_endpoint_returns_the_whole_result(server):
    r = httpx.post(f"{server.url}/v1/runs", headers=AUTH, timeout=30, json={
        "message": "Which motifs does the PCV2 Rep protein carry?", "thread_id": "t-runs",
        "overrides": {"temperature": 0.0, "max_rounds": 0, "k": 2}})
    assert r.status_code == 200, r.text
    run = RunResult.model_validate(r.json())
    assert run.thread_id == "t-runs" and run.answer
    assert [e.node for e in run.trace if e.type == "step"][0] == "route"
    assert r.headers["x-request-id"]


def test_sse_stream_with_httpx(make_server):
    server = make_server(model=FixedLatencyChatModel(latency_s=0.02, token_delay_s=0.01))
    events: list[tuple[str, TraceEvent, float]] = []
    with httpx.stream("POST", f"{server.url}/v1/runs/stream", headers=AUTH, timeout=30,
                      json={"message": "What does the Rep protein of PCV2 do?"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = sse_events(r)
        first = next(stream)
        assert first[0] == "run" and len(first[1]["run_id"]) == 32 and first[1]["thread_id"]
        for name, data in stream:
            event = TraceEvent.model_validate(data)
            assert event.type == name
            events.append((name, event, time.perf_counter()))
    names = [n for n, _, _ in events]
    assert names[-1] == "done" and names.count("done") == 1
    assert names[0] == "step" and events[0][1].node == "route"
    assert "token" in names
    steps = [e.node for n, e, _ in events if n == "step"]
    assert "answer" in steps
    result = RunResult.model_validate(events[-1][1].data)
    tokens = "".join(e.data["text"] for n, e, _ in events if n == "token")
    assert tokens.strip() and result.answer
    # events arrive as they happen: the first one well before the last
    assert events[-1][2] - events[0][2] > 0.05


def test_client_disconnect_cancels_the_run(make_server):
    model = FixedLatencyChatModel(latency_s=0.05, token_delay_s=0.3, answer=" ".join(["word"] * 60))
    server = make_server(model=model)
    with httpx.stream("POST", f"{server.url}/v1/runs/stream", headers=AUTH, timeout=30,
                      json={"message": "What does the Rep protein of PCV2 do?"}) as r:
        for name, _data in sse_events(r):
            if name == "token":
                break  # the answer is streaming: go away
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (server.ctx.active or model.log.cancelled == 0):
        time.sleep(0.05)
    assert not server.ctx.active, "the run's task is still alive after the client left"
    assert server.ctx.cancelled_runs == 1
    assert model.log.cancelled >= 1, "the model call in progress was not cancelled"
    assert model.log.finished < model.log.calls
    metrics = httpx.get(f"{server.url}/metrics", headers=AUTH).text
    assert 'bioagent_runs_total{endpoint="runs_stream",outcome="cancelled"} 1.0' in metrics


def test_disconnect_cancels_a_non_streaming_run(make_server):
    model = FixedLatencyChatModel(latency_s=5.0)
    server = make_server(model=model)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/v1/runs", headers=AUTH, timeout=0.5, json={"message": "What is a Rep protein?"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.ctx.active:
        time.sleep(0.05)
    assert not server.ctx.active and server.ctx.cancelled_runs == 1
    assert model.log.cancelled >= 1


def test_concurrent_streams_share_one_process_without_blocking(make_server):
    latency = 0.4
    server = make_server(model=FixedLatencyChatModel(latency_s=latency))

    async def one(client: httpx.AsyncClient) -> float:
        started = time.perf_counter()
        async with client.stream("POST", "/v1/runs/stream", json={"message": "What is a Rep protein?"}) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("event: done"):
                    break
        return time.perf_counter() - started

    async def many(n: int) -> tuple[float, list[float]]:
        limits = httpx.Limits(max_connections=n)
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=60, limits=limits) as client:
            started = time.perf_counter()
            times = await asyncio.gather(*(one(client) for _ in range(n)))
            return time.perf_counter() - started, times

    single, _ = asyncio.run(many(1))
    wall, times = asyncio.run(many(20))
    assert len(times) == 20
    # 20 runs whose model calls each wait `latency`: run one after another they would take 20x as long.
    assert wall < 4 * single, (wall, single)
