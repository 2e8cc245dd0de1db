"""The UI client: readable errors, SSE parsing, readiness shapes, and both backends against the real
AgentService (fake chat model): in-process, and over HTTP through the real API app served by uvicorn."""

from __future__ import annotations

import time

import httpx
import pytest

from agent.events import RunOverrides
from tests.ui.fakes import ANSWER, UIFakeChat
from ui.client import (
    ClientError,
    Unsupported,
    describe_error,
    iter_sse,
    normalize_readiness,
)


def test_describe_error_is_readable():
    message = describe_error(httpx.ConnectError("[Errno 111] Connection refused"))
    assert "Cannot reach the model endpoint" in message and "BIOAGENT_LLM__BASE_URL" in message
    assert describe_error(ValueError("no sequence found")) == "Invalid input: no sequence found"
    from mcp_servers.sequence.errors import InputError

    assert describe_error(InputError("No sequence in the input.")) == "No sequence in the input."


def test_sse_parser_joins_data_lines_and_skips_comments():
    lines = [": ping", "event: step", "id: 1", 'data: {"type": "step",', 'data: "node": "route"}', "",
             "event: done", 'data: {"type": "done"}']
    assert list(iter_sse(lines)) == [("step", '{"type": "step",\n"node": "route"}'), ("done", '{"type": "done"}')]


def test_readiness_accepts_the_core_dict_and_the_api_body():
    core = {"llm": {"ok": True, "detail": "x"}, "qdrant": {"ok": False, "detail": "down"}}
    assert normalize_readiness(core) == core
    api = {"status": "not_ready", "failing": ["qdrant"],
           "checks": {"llm": {"ok": True, "required": True, "detail": None}}}
    assert normalize_readiness(api) == {"llm": {"ok": True, "required": True, "detail": None}}


def test_in_process_stream_passes_overrides_and_reads_history(make_client, fake_chat):
    client = make_client()
    events = list(client.stream("What does the PCV2 Rep protein do?",
                                overrides=RunOverrides(temperature=0.3, top_p=0.9)))
    types = [e.type for e in events]
    assert types[0] == "step" and "token" in types and types[-1] == "done"
    assert [e.node for e in events if e.type == "step"][:2] == ["route", "rewrite"]
    done = events[-1].data
    assert done["answer"] == ANSWER and done["citations"][0]["ref"] == "P1"
    assert set(fake_chat.seen) == {(0.3, 0.9)}
    history = client.history(done["thread_id"])
    assert history == [{"role": "user", "content": "What does the PCV2 Rep protein do?"},
                       {"role": "assistant", "content": ANSWER}]


def test_a_consumer_that_stops_early_cancels_the_run(make_client, make_service):
    client = make_client(service=make_service(chat_model=UIFakeChat(delay_s=0.5)))
    stream = client.stream("What does the PCV2 Rep protein do?", thread_id="cancelled-run")
    first = next(stream)
    stream.close()  # what a page rerun does to the generator
    assert first.type == "step"
    time.sleep(2.0)
    assert not any(m["role"] == "assistant" for m in client.history("cancelled-run")), "the run went on"


def test_llm_down_is_a_readable_client_error(make_client, make_service, settings):
    settings.llm.base_url = "http://127.0.0.1:9/v1"
    client = make_client(service=make_service(chat_model=None))
    with pytest.raises(ClientError, match="is not reachable"):
        list(client.stream("hello"))
    assert client.readiness()["llm"]["ok"] is False


# -- the HTTP backend against the real API app ---------------------------------------------------------------------


def test_http_backend_streams_runs_and_reads_threads(api_url, http_client, fake_chat):
    client = http_client(api_url)
    events = list(client.stream("What does the PCV2 Rep protein do?", overrides=RunOverrides(temperature=0.2)))
    types = [e.type for e in events]
    assert types[0] == "step" and "token" in types and types[-1] == "done"
    done = events[-1].data
    assert done["answer"] == ANSWER and done["citations"][0]["ref"] == "P1"
    assert (0.2, None) in fake_chat.seen or all(t == 0.2 for t, _ in fake_chat.seen)
    history = client.history(done["thread_id"])
    assert history[-1]["content"] == ANSWER
    assert client.run("And its helicase?", thread_id=done["thread_id"]).thread_id == done["thread_id"]
    ready = client.readiness()
    assert ready["api"]["ok"] and ready["llm"]["ok"] and ready["mcp_sequence"]["ok"]


def test_http_backend_uploads_and_explains_what_the_api_cannot_do(api_url, http_client, memory_kb):
    client = http_client(api_url)
    seen = []
    report = client.ingest([("rep.txt", b"Rep binds the origin.\n\nIt nicks DNA.")],
                           progress=lambda done, total, name: seen.append((done, total, name)))
    assert report["added_docs"] == ["rep"] and report["chunks_written"] == 2
    assert seen == [(0, 1, "rep.txt"), (1, 1, "")]
    assert "rep" in memory_kb.docs
    with pytest.raises(Unsupported):
        client.list_documents()
    bad = client.ingest([("virus.exe", b"MZ")])
    assert bad["errors"] and "not accepted" in bad["errors"][0]


def test_http_backend_reports_a_wrong_key_an_unreachable_api_and_bad_input(api_url, http_client):
    with pytest.raises(ClientError, match="refused the key"):
        http_client(api_url, "wrong").run("hello")
    with pytest.raises(ClientError, match="rejected the input"):
        http_client(api_url).run("   ")
    with pytest.raises(ClientError, match="Cannot reach the bioagent API"):
        http_client("http://127.0.0.1:9").run("hello")
    assert http_client("http://127.0.0.1:9").readiness()["api"]["ok"] is False
