"""Validation (422 with fields), upload limits and types, the body ceiling, ingest and the report endpoint."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.api.helpers import AUTH, ingest


def _fields(r: httpx.Response) -> set[str]:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"]["type"] == "validation_error" and body["error"]["request_id"]
    return {d["field"] for d in body["detail"]}


@pytest.mark.parametrize("body, field", [
    ({}, "body.message"),
    ({"message": "   "}, "body.message"),
    ({"message": 3}, "body.message"),
    ({"message": "hi", "thread_id": "../etc/passwd"}, "body.thread_id"),
    ({"message": "hi", "overrides": {"temperature": 5}}, "body.overrides.temperature"),
    ({"message": "hi", "overrides": {"temprature": 0.1}}, "body.overrides.temprature"),
    ({"message": "hi", "surprise": 1}, "body.surprise"),
])
def test_runs_validation_is_422_with_the_field(server, body, field):
    assert field in _fields(httpx.post(f"{server.url}/v1/runs", json=body, headers=AUTH))


def test_validation_error_lists_every_field_and_does_not_echo_input(server):
    r = httpx.post(f"{server.url}/v1/runs", headers=AUTH,
                   json={"message": "", "thread_id": "bad id!", "overrides": {"top_p": 0}})
    assert _fields(r) == {"body.message", "body.thread_id", "body.overrides.top_p"}
    assert "bad id!" not in r.text


def test_malformed_json_is_422(server):
    r = httpx.post(f"{server.url}/v1/runs", content=b"{not json", headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["type"] == "validation_error"


def test_message_length_limit_from_settings(make_server):
    server = make_server(max_message_chars=50)
    assert "body.message" in _fields(httpx.post(f"{server.url}/v1/runs", json={"message": "x" * 51}, headers=AUTH))
    r = httpx.post(f"{server.url}/v1/chat/completions", headers=AUTH,
                   json={"model": "bioagent", "messages": [{"role": "user", "content": "x" * 51}]})
    assert r.status_code == 422


def test_chat_validation(server):
    url = f"{server.url}/v1/chat/completions"
    assert "body.messages" in _fields(httpx.post(url, headers=AUTH, json={"model": "bioagent", "messages": []}))
    only_system = {"model": "bioagent", "messages": [{"role": "system", "content": "hi"}]}
    assert "body.messages" in _fields(httpx.post(url, headers=AUTH, json=only_system))
    two = {"model": "bioagent", "n": 2, "messages": [{"role": "user", "content": "hi"}]}
    assert "body.n" in _fields(httpx.post(url, headers=AUTH, json=two))
    bad_thread = httpx.post(url, headers={**AUTH, "X-Thread-Id": "no spaces"},
                            json={"messages": [{"role": "user", "content": "hi"}]})
    assert "header.x-thread-id" in _fields(bad_thread)


def test_ingest_a_text_file(server, kb):
    files = [("files", ("rep notes.md", b"# Rep\n\nThe Rep protein nicks the origin.\n", "text/markdown")),
             ("files", ("../../evil.txt", b"plain text", "text/plain"))]
    job = ingest(server.url, files, AUTH)
    assert job["state"] == "done" and job["progress"] == {"done": 2, "total": 2}, job
    assert [f["file"] for f in job["results"]] == ["rep notes.md", "evil.txt"]
    assert [f["doc_id"] for f in job["results"]] == ["admin:rep notes", "admin:evil"], "the uploader's documents"
    assert kb.ingested == ["rep notes.md", "evil.txt"]


@pytest.mark.parametrize("name, content, status", [
    ("tool.exe", b"MZ\x90\x00", 415),
    ("noextension", b"text", 415),
    ("paper.pdf", b"not a pdf at all", 415),
    ("latin1.txt", "caf\u00e9".encode("latin-1"), 415),
    ("empty.txt", b"", 422),
])
def test_ingest_rejects_bad_files(server, kb, name, content, status):
    r = httpx.post(f"{server.url}/v1/ingest", files=[("files", (name, content))], headers=AUTH)
    assert r.status_code == status, r.text
    assert r.json()["error"]["request_id"]
    assert kb.ingested == [], "nothing is ingested when a file is rejected"


def test_ingest_size_and_count_limits(make_server, kb):
    server = make_server(max_upload_mb=0.01, max_upload_files=2)  # 10 KiB per file
    url = f"{server.url}/v1/ingest"
    big = httpx.post(url, files=[("files", ("big.txt", b"a" * 20_000))], headers=AUTH)
    assert big.status_code == 413 and big.json()["error"]["type"] == "request_too_large"
    ok = ingest(server.url, [("files", ("small.txt", b"a" * 5_000))], AUTH)
    assert ok["state"] == "done" and "error" not in ok["results"][0], ok
    three = [("files", (f"f{i}.txt", b"text")) for i in range(3)]
    assert "body.files" in _fields(httpx.post(url, files=three, headers=AUTH))
    assert kb.ingested == ["small.txt"]


def test_body_over_the_ceiling_is_refused_before_it_is_read(make_server):
    server = make_server(max_upload_mb=0.01, max_upload_files=1)  # ceiling: 10 KiB + 1 MiB
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH["Authorization"].encode()
                     + b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 50000000\r\n\r\n")
        head = sock.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413"), head

    def chunks():  # a well-formed multipart body, sent chunked (no Content-Length), that never ends in time
        yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'
        for _ in range(40):
            yield b"x" * 65536
        yield b"\r\n--b--\r\n"

    r = httpx.post(f"{server.url}/v1/ingest", content=chunks(), timeout=30,
                   headers={**AUTH, "content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413


def test_unauthenticated_upload_is_refused_before_the_body(server, kb):
    r = httpx.post(f"{server.url}/v1/ingest", files=[("files", ("a.txt", b"text"))])
    assert r.status_code == 401 and kb.ingested == []


def test_too_many_runs_in_flight_is_429(make_server):
    from tests.api.helpers import FixedLatencyChatModel

    server = make_server(model=FixedLatencyChatModel(latency_s=2.0), max_concurrent_runs=1)
    with httpx.stream("POST", f"{server.url}/v1/runs/stream", json={"message": "What is Rep?"}, headers=AUTH,
                      timeout=30) as first:
        assert first.status_code == 200
        second = httpx.post(f"{server.url}/v1/runs", json={"message": "What is Rep?"}, headers=AUTH)
        assert second.status_code == 429 and second.headers["retry-after"] == "1"
        assert second.json()["error"]["code"] == "too_many_runs"


def test_sequence_report(server):
    r = httpx.post(f"{server.url}/v1/sequence/report", headers=AUTH, timeout=60,
                   json={"sequence": ">rep\nMPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQGFANFVKKQTFNKVKWYLGARCHIEKAKGTDQQNKEYCSKEGN",
                         "lang": "en"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["markdown"].strip() and isinstance(body["data"], dict)
    bad = httpx.post(f"{server.url}/v1/sequence/report", headers=AUTH, json={"sequence": "MKV", "lang": "fr"})
    assert "body.lang" in _fields(bad)


def test_ingest_when_the_knowledge_base_cannot_be_opened_is_503(data_dir, monkeypatch):
    import agent.context
    from agent.api import create_app
    from agent.kb.errors import StoreConfigError
    from tests.api.conftest import api_settings
    from tests.api.double import ContractService
    from tests.api.helpers import FixedLatencyChatModel, LiveServer

    def broken(settings):
        raise StoreConfigError("the collection was built with another embedding model (all-mpnet-base-v2)")

    monkeypatch.setattr(agent.context, "load_knowledge_base", broken)
    app = create_app(api_settings(data_dir), service=ContractService(FixedLatencyChatModel()))
    with LiveServer(app) as server:
        r = httpx.post(f"{server.url}/v1/ingest", files=[("files", ("a.txt", b"text"))], headers=AUTH)
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "kb_unavailable" and "another embedding model" in r.json()["error"]["message"]
