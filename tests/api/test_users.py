"""Users kept apart: two users (keys from the real account store) try every thread, run, job and document endpoint
on each other's things over a real uvicorn, with the real AgentService (fake chat model only) and the real
knowledge base (embedded Qdrant, the bundled embedding model). Nothing leaks; someone else's thing is a 404."""

from __future__ import annotations

import httpx
import pytest
from langchain_core.tools import StructuredTool

from agent.api.accounts import AccountStore, User
from agent.settings import EmbeddingSettings
from tests.api.conftest import api_settings
from tests.api.helpers import AUTH, FixedLatencyChatModel, LiveServer, annotate_rep, ingest, sse_events

ALICE_NOTE = b"""# Zebra finch circovirus Rep

The Rep protein of zebra finch circovirus carries a quokka-specific stem-loop nickase motif named ALPHAQUOKKA.
"""
BOB_NOTE = b"""# Beak and feather disease virus capsid

The capsid protein of beak and feather disease virus binds heparan sulfate on feather follicle cells.
"""
SHARED_NOTE = b"""# CRESS-DNA viruses

CRESS-DNA viruses have small circular single-stranded DNA genomes that encode a replication-associated protein.
"""


def search_library(query: str) -> str:
    """Search the whole library (a library-wide MCP tool)."""
    return query


@pytest.fixture
def two_users(data_dir):
    from agent.api import create_app
    from agent.runner import AgentService

    settings = api_settings(data_dir)
    settings.embedding = EmbeddingSettings(multilingual=False)
    accounts = AccountStore(data_dir / "users.sqlite")
    keys = {name: accounts.add_user(name) for name in ("alice", "bob")}
    keys["carol"] = accounts.add_user("carol", password="s3cret-pw")
    accounts.close()
    tools = [StructuredTool.from_function(annotate_rep, name="annotate_rep", metadata={"server": "sequence"}),
             StructuredTool.from_function(search_library, name="search_library", metadata={"server": "literature"})]
    service = AgentService(settings, chat_model=FixedLatencyChatModel(), tools=tools)
    with LiveServer(create_app(settings, service=service, close_service=True)) as server:
        yield server, {name: {"Authorization": f"Bearer {key}"} for name, key in keys.items()}


def test_nothing_leaks_between_users(two_users):
    server, h = two_users
    url = server.url
    alice, bob = h["alice"], h["bob"]

    # -- documents: each uploads one; the admin adds one to the shared library
    a_job = ingest(url, [("files", ("zf-rep.md", ALICE_NOTE, "text/markdown"))], alice)
    b_job = ingest(url, [("files", ("bfdv-cap.md", BOB_NOTE, "text/markdown"))], bob)
    s_job = ingest(url, [("files", ("cress.md", SHARED_NOTE, "text/markdown"))], AUTH, shared="true")
    a_doc, b_doc, s_doc = (j["results"][0]["doc_id"] for j in (a_job, b_job, s_job))
    assert (a_doc, b_doc, s_doc) == ("alice:zf-rep", "bob:bfdv-cap", "cress"), (a_job, b_job, s_job)
    forbidden = httpx.post(f"{url}/v1/ingest", files=[("files", ("x.md", b"x"))], data={"shared": "true"}, headers=bob)
    assert forbidden.status_code == 403, "only admins add to the shared library"

    def ids(headers, scope="all"):
        r = httpx.get(f"{url}/v1/documents", params={"scope": scope}, headers=headers)
        assert r.status_code == 200, r.text
        return {d["id"] for d in r.json()["documents"]}

    assert ids(alice) == {a_doc, s_doc} and ids(bob) == {b_doc, s_doc}
    assert ids(alice, "mine") == {a_doc} and ids(alice, "shared") == {s_doc}
    assert ids(AUTH) == {a_doc, b_doc, s_doc}, "the admin manages every document"
    assert httpx.get(f"{url}/v1/documents/stats", headers=alice).json()["documents"] == 2

    for method in ("GET", "DELETE"):
        r = httpx.request(method, f"{url}/v1/documents/{a_doc}", headers=bob)
        assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found", (method, r.text)
        assert httpx.request(method, f"{url}/v1/documents/{b_doc}", headers=alice).status_code == 404
    assert httpx.get(f"{url}/v1/documents/{a_doc}", headers=alice).json()["owner"] == "alice"
    assert httpx.delete(f"{url}/v1/documents/{s_doc}", headers=bob).status_code == 403, "shared: admins only"
    assert a_doc in ids(alice), "bob's delete did not remove alice's document"

    hits = httpx.post(f"{url}/v1/documents/search", headers=bob,
                      json={"query": "ALPHAQUOKKA zebra finch circovirus nickase", "k": 10}).json()["hits"]
    assert hits and {x["doc_id"] for x in hits} <= {b_doc, s_doc}, hits
    widened = httpx.post(f"{url}/v1/documents/search", headers=bob,
                         json={"query": "zebra finch circovirus", "filters": {"owners": ["alice"]}}).json()["hits"]
    assert {x["doc_id"] for x in widened} <= {b_doc, s_doc}, "a filter cannot widen the user's scope"
    mine = httpx.post(f"{url}/v1/documents/search", headers=alice,
                      json={"query": "ALPHAQUOKKA zebra finch circovirus nickase", "k": 10}).json()["hits"]
    assert mine[0]["doc_id"] == a_doc

    # -- jobs
    assert httpx.get(f"{url}/v1/jobs/{a_job['job_id']}", headers=bob).status_code == 404
    assert httpx.get(f"{url}/v1/jobs/{a_job['job_id']}", headers=alice).status_code == 200

    # -- runs and threads: the agent's retrieval sees the user's documents plus the shared library
    question = "What does the Rep of zebra finch circovirus (ALPHAQUOKKA motif) do?"
    ra = httpx.post(f"{url}/v1/runs", headers=alice, timeout=60, json={"message": question, "thread_id": "a-thread"})
    assert ra.status_code == 200, ra.text
    assert a_doc in {p["doc_id"] for p in ra.json()["passages"]}
    rb = httpx.post(f"{url}/v1/runs", headers=bob, timeout=60, json={"message": question})
    assert rb.status_code == 200 and a_doc not in {p["doc_id"] for p in rb.json()["passages"]}, rb.text
    assert {p["doc_id"] for p in rb.json()["passages"]} <= {b_doc, s_doc}
    b_thread = rb.json()["thread_id"]

    assert [t["thread_id"] for t in httpx.get(f"{url}/v1/threads", headers=alice).json()["threads"]] == ["a-thread"]
    assert [t["thread_id"] for t in httpx.get(f"{url}/v1/threads", headers=bob).json()["threads"]] == [b_thread]
    for method in ("GET", "DELETE"):
        r = httpx.request(method, f"{url}/v1/threads/a-thread", headers=bob)
        assert r.status_code == 404 and r.json()["error"]["code"] == "thread_not_found", (method, r.text)
    body = {"message": "and its helicase?", "thread_id": "a-thread"}
    assert httpx.post(f"{url}/v1/runs", headers=bob, json=body).status_code == 404
    assert httpx.post(f"{url}/v1/runs", headers=bob, json={**body, "background": True}).status_code == 404
    assert httpx.post(f"{url}/v1/runs/stream", headers=bob, json=body).status_code == 404
    chat = {"model": "bioagent", "messages": [{"role": "user", "content": "and its helicase?"}], "thread_id": "a-thread"}
    assert httpx.post(f"{url}/v1/chat/completions", headers=bob, json=chat).status_code == 404
    assert httpx.post(f"{url}/v1/chat/completions", headers={**bob, "X-Thread-Id": "a-thread"},
                      json={**chat, "thread_id": None}).status_code == 404
    history = httpx.get(f"{url}/v1/threads/a-thread", headers=alice).json()["messages"]
    assert [m["content"] for m in history if m["role"] == "user"] == [question], "bob's attempts left no trace"

    # -- runs by id: someone else's run is a 404 for status, cancel and stream resume
    bg = httpx.post(f"{url}/v1/runs", headers=alice, json={"message": question, "background": True})
    assert bg.status_code == 202, bg.text
    run_id = bg.json()["run_id"]
    assert httpx.get(f"{url}/v1/runs/{run_id}", headers=bob).status_code == 404
    assert httpx.post(f"{url}/v1/runs/{run_id}/cancel", headers=bob).status_code == 404
    assert httpx.get(f"{url}/v1/runs/{run_id}/stream", headers={**bob, "Last-Event-ID": "0"}).status_code == 404
    with httpx.stream("GET", f"{url}/v1/runs/{run_id}/stream", headers=alice, timeout=60) as r:
        names = [name for name, _ in sse_events(r)]
    assert names[-1] == "done"
    assert httpx.get(f"{url}/v1/runs/{run_id}", headers=alice).json()["status"] == "done"

    # -- a user's run does not get the library-wide tools
    overrides, scope = server.ctx.run_options(User("bob"), None)
    assert overrides.tools_enabled == ["annotate_rep"] and scope is not None
    assert server.ctx.run_options(User("admin", "admin"), None) == (None, None)

    # -- alice deletes her thread; it is gone for her too
    assert httpx.delete(f"{url}/v1/threads/a-thread", headers=alice).json() == {"deleted": "a-thread"}
    assert httpx.get(f"{url}/v1/threads/a-thread", headers=alice).status_code == 404
    assert httpx.delete(f"{url}/v1/documents/{a_doc}", headers=alice).json()["deleted"] == a_doc
    assert ids(alice) == {s_doc}


def test_me_preferences_and_password_sign_in(two_users):
    server, h = two_users
    url = server.url
    assert httpx.get(f"{url}/v1/me", headers=h["alice"]).json() == {
        "user": "alice", "role": "user", "preferences": {"lang": "en"}}
    r = httpx.put(f"{url}/v1/me/preferences", headers=h["alice"], json={"lang": "zh"})
    assert r.status_code == 200 and r.json()["preferences"] == {"lang": "zh"}
    assert httpx.get(f"{url}/v1/me", headers=h["alice"]).json()["preferences"]["lang"] == "zh"
    assert httpx.get(f"{url}/v1/me", headers=h["bob"]).json()["preferences"]["lang"] == "en", "per user"
    bad = httpx.put(f"{url}/v1/me/preferences", headers=h["alice"], json={"lang": "fr"})
    assert bad.status_code == 422
    admin = httpx.get(f"{url}/v1/me", headers=AUTH).json()
    assert admin["user"] == "admin" and admin["role"] == "admin", "the settings key is an admin key"

    wrong = httpx.post(f"{url}/v1/auth/token", json={"username": "carol", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    assert httpx.post(f"{url}/v1/auth/token", json={"username": "alice", "password": "x"}).status_code == 401
    token = httpx.post(f"{url}/v1/auth/token", json={"username": "carol", "password": "s3cret-pw"})
    assert token.status_code == 200, token.text
    key = token.json()["api_key"]
    assert httpx.get(f"{url}/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["user"] == "carol"
    assert httpx.get(f"{url}/v1/me", headers={"Authorization": f"Bearer {key}x"}).status_code == 401
    assert "s3cret" not in (server.ctx.accounts.path.read_bytes().decode("latin-1")), "only hashes are stored"
