"""Runs with ids over a real uvicorn and the real AgentService (fake chat model): background runs, status, cancel,
SSE resume with Last-Event-ID; ingest jobs that time out or queue; the OpenAI messages list as the conversation."""

from __future__ import annotations

import time

import httpx
import openai

from tests.api.helpers import API_KEY, AUTH, FixedLatencyChatModel, ingest, sse_events


def _wait(url: str, run_id: str, status: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while (r := httpx.get(f"{url}/v1/runs/{run_id}", headers=AUTH).json())["status"] != status:
        assert time.monotonic() < deadline, r
        time.sleep(0.05)
    return r


def test_background_run_status_and_resume(make_server):
    server = make_server(model=FixedLatencyChatModel(latency_s=0.01, token_delay_s=0.02))
    r = httpx.post(f"{server.url}/v1/runs", headers=AUTH, json={"message": "What does Rep do?", "background": True})
    assert r.status_code == 202, r.text
    run_id, thread_id = r.json()["run_id"], r.json()["thread_id"]
    assert httpx.get(f"{server.url}/v1/runs/{run_id}", headers=AUTH).json()["status"] == "running"

    # Read a few events, go away (a background run keeps running), then resume after the last one seen.
    seen: list[tuple[int, str]] = []
    with httpx.stream("GET", f"{server.url}/v1/runs/{run_id}/stream", headers=AUTH, timeout=30) as s:
        from httpx_sse import EventSource

        for sse in EventSource(s).iter_sse():
            seen.append((int(sse.id), sse.event))
            if len(seen) == 3:
                break
    assert [i for i, _ in seen] == [1, 2, 3]
    done = _wait(server.url, run_id, "done")
    assert done["result"]["thread_id"] == thread_id and done["result"]["answer"]
    with httpx.stream("GET", f"{server.url}/v1/runs/{run_id}/stream", timeout=30,
                      headers={**AUTH, "Last-Event-ID": str(seen[-1][0])}) as s:
        from httpx_sse import EventSource

        rest = [(int(sse.id), sse.event) for sse in EventSource(s).iter_sse()]
    assert rest[0][0] == seen[-1][0] + 1, "resumed right after the last event seen"
    assert rest[-1][1] == "done" and rest[-1][0] == done["events"]
    assert [i for i, _ in seen + rest] == list(range(1, done["events"] + 1)), "no event lost or repeated"
    assert httpx.get(f"{server.url}/v1/runs/{'0' * 32}", headers=AUTH).status_code == 404


def test_cancel_a_background_run(make_server):
    model = FixedLatencyChatModel(latency_s=2.0, token_delay_s=0.3, answer=" ".join(["word"] * 60))
    server = make_server(model=model)
    run_id = httpx.post(f"{server.url}/v1/runs", headers=AUTH,
                        json={"message": "What does Rep do?", "background": True}).json()["run_id"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{server.url}/v1/runs/{run_id}", headers=AUTH).json()["events"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # cancel right after a model call starts: every call lasts >= 2 s, so it is still in flight when the cancel
    # arrives (a call merely seen in flight could be a 50 ms one about to finish on a loaded machine)
    started = model.log.calls
    while model.log.calls == started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    r = httpx.post(f"{server.url}/v1/runs/{run_id}/cancel", headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert model.log.cancelled >= 1, "the model call in progress was cancelled"
    metrics = httpx.get(f"{server.url}/metrics", headers=AUTH).text
    assert 'bioagent_runs_total{endpoint="runs",outcome="cancelled"} 1.0' in metrics


def test_detached_stream_survives_its_client(make_server):
    server = make_server(model=FixedLatencyChatModel(latency_s=0.01, token_delay_s=0.05))
    with httpx.stream("POST", f"{server.url}/v1/runs/stream", headers=AUTH, timeout=30,
                      json={"message": "What does Rep do?", "background": True}) as r:
        first_name, first = next(sse_events(r))
    assert first_name == "run"
    result = _wait(server.url, first["run_id"], "done")["result"]
    assert result["answer"] and server.ctx.cancelled_runs == 0


def test_openai_messages_are_the_conversation(server):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    messages = [{"role": "system", "content": "You answer briefly."},
                {"role": "user", "content": "What is a Rep protein?"},
                {"role": "assistant", "content": "The replication initiator of CRESS-DNA viruses."},
                {"role": "user", "content": "Which motifs does it carry?"}]
    reply = client.chat.completions.with_raw_response.create(model="bioagent", messages=messages)
    thread_id = reply.headers["x-thread-id"]
    history = httpx.get(f"{server.url}/v1/threads/{thread_id}", headers=AUTH).json()["messages"]
    assert [(m["role"], m["content"]) for m in history][:3] == [
        ("user", "What is a Rep protein?"), ("assistant", "The replication initiator of CRESS-DNA viruses."),
        ("user", "Which motifs does it carry?")], "the earlier turns are the thread's conversation"
    state = server.ctx.service.graph.get_state({"configurable": {"thread_id": thread_id}})
    assert state.values["messages"][0].type == "system" and state.values["messages"][0].content == "You answer briefly."


def test_ingest_parse_timeout_is_reported(make_server, kb):
    server = make_server(parse_timeout_s=0.05)  # shorter than starting a Python process: every parse times out
    job = ingest(server.url, [("files", ("notes.md", b"# Notes\n\nRep nicks the origin.\n"))], AUTH)
    assert job["state"] == "done" and job["progress"] == {"done": 1, "total": 1}
    assert "parsing took longer than 0.05 s" in job["results"][0]["error"], job
    assert kb.ingested == []


def test_ingest_jobs_are_capped(make_server):
    server = make_server(max_concurrent_jobs=1, max_queued_jobs=0, parse_timeout_s=30)
    files = [("files", (f"n{i}.md", b"# Notes\n\nRep nicks the origin.\n")) for i in range(3)]
    first = httpx.post(f"{server.url}/v1/ingest", files=files, headers=AUTH)
    assert first.status_code == 202
    second = httpx.post(f"{server.url}/v1/ingest", files=files, headers=AUTH)
    assert second.status_code == 429 and second.json()["error"]["code"] == "too_many_jobs", second.text


def test_graceful_shutdown_lets_running_answers_finish(data_dir, kb):
    """On shutdown a background run gets shutdown_grace_s to finish; past it, it is cancelled."""
    from agent.api import create_app
    from tests.api.conftest import api_settings, real_service
    from tests.api.helpers import LiveServer

    for grace, expected in ((20.0, "done"), (0.2, "cancelled")):
        settings = api_settings(data_dir / str(grace), shutdown_grace_s=grace)
        model = FixedLatencyChatModel(latency_s=0.5)
        app = create_app(settings, service=real_service(settings, model, kb=kb), close_service=True)
        server = LiveServer(app).__enter__()
        run_id = httpx.post(f"{server.url}/v1/runs", headers=AUTH,
                            json={"message": "What does Rep do?", "background": True}).json()["run_id"]
        time.sleep(0.3)
        server.__exit__(None, None, None)  # SIGTERM-like: stop serving, then the app's shutdown
        record = app.state.ctx.runs.runs[run_id]
        assert record.status == expected, (grace, record.status)
