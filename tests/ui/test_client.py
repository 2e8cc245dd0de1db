"""The UI client: readable errors, SSE parsing, readiness shapes, and both backends against the real
AgentService (fake chat model): in-process, and over HTTP through the real API app served by uvicorn."""

from __future__ import annotations

import time

import httpx
import pytest

from agent.events import RunOverrides
from tests.ui.fakes import ANSWER, UIFakeChat
from ui.client import ClientError, describe_error, iter_sse, normalize_readiness


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


def test_errors_are_readable_in_both_languages():
    assert describe_error(ValueError("bad"), "zh") == "输入无效：bad"
    assert "模型服务" in describe_error(httpx.ConnectError("Connection refused"), "zh")


def test_in_process_threads_preferences_and_jobs_are_per_user(make_client, make_service, memory_kb, settings):
    from ui.backend_local import InProcessBackend
    from ui.client import BioagentClient

    ann = make_client()
    bob = BioagentClient(InProcessBackend(make_service(), knowledge_base=memory_kb, settings=settings, user="bob"))
    try:
        done = list(ann.stream("What does the PCV2 Rep protein do?"))[-1].data
        assert [t["thread_id"] for t in ann.threads()] == [done["thread_id"]]
        assert bob.threads() == []  # another user of the same data dir sees none of them
        assert ann.set_preferences(lang="zh")["preferences"] == {"lang": "zh"}
        assert bob.me()["preferences"] == {}
        assert ann.delete_thread(done["thread_id"]) == {"deleted": done["thread_id"]}
        assert ann.threads() == [] and ann.history(done["thread_id"]) == []  # the checkpoint went too
        with pytest.raises(ClientError):
            ann.delete_thread(done["thread_id"])

        seen = []
        job = ann.ingest([("rep.txt", b"Rep binds the origin.\n\nIt nicks DNA."), ("empty.txt", b"")],
                         progress=lambda done_, total, name: seen.append((done_, total)))
        assert job["state"] == "done" and job["results"][0] == {"file": "rep.txt", "doc_id": "rep", "chunks": 2}
        assert "error" in job["results"][1] and seen[-1] == (2, 2)
        assert "rep" in {d["id"] for d in ann.list_documents()}
    finally:
        bob.close()


def test_user_store_writes_under_a_lock_from_many_threads(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from ui.user_store import UserStore

    stores = [UserStore(tmp_path, "alice") for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: stores[i % 4].touch_thread(f"t{i}", f"question {i}"), range(60)))
    assert sorted(t["thread_id"] for t in stores[0].threads()) == sorted(f"t{i}" for i in range(60))
    assert UserStore(tmp_path, "../etc").root.parent == tmp_path / "ui" / "users"  # a name is never a path
