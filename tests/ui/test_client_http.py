"""The UI client over HTTP against the real API app (uvicorn, the real AgentService with a fake chat model, the real
knowledge base), signed in as different users: runs, each user's own threads, the library through ingest jobs,
preferences, password sign-in, and the sequence endpoints giving what the in-process backend gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.events import RunOverrides
from tests.ui.fakes import ANSWER
from ui.client import ClientError, sign_in_with_password

DATA = Path(__file__).resolve().parents[1] / "data" / "sequences"
PCV2_REP = ("MPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQGFANFVKKQTFNKVKWYLGARCHIEKAKGTDQQNKEYCSKEG"
            "NLLIECGAPRSQGQRSDLSTAVSTLLESGSLVTVAEQHPVTFVRNFRGLAELLKVSGKMQKRDWKTNVHVIVGPPGCGKSKWAANFADPETTYWKPPRNK"
            "WWDGYHGEEVVVIDDFYGWLPWDDLLRLCDRYPLTVETKGGTVPFLARSILITSNQTPLEWYSSTAVPAVEALYRRITSLVFWKNATEQSTEEGGQFVTLS"
            "PPCPEFPYEINY")


def test_runs_and_threads_belong_to_their_user(api_server, http_client, fake_chat):
    alice = http_client(api_server.url, api_server.keys["alice"])
    bob = http_client(api_server.url, api_server.keys["bob"])
    events = list(alice.stream("What does the PCV2 Rep protein do?", overrides=RunOverrides(temperature=0.2)))
    types = [e.type for e in events]
    assert types[0] == "step" and "token" in types and types[-1] == "done"
    done = events[-1].data
    assert done["answer"] == ANSWER and done["citations"][0]["ref"] == "P1"
    assert all(t == 0.2 for t, _ in fake_chat.seen)
    thread = done["thread_id"]

    listed = alice.threads()
    assert [t["thread_id"] for t in listed] == [thread]
    assert listed[0]["title"].startswith("What does the PCV2 Rep protein do?")
    assert alice.history(thread)[-1]["content"] == ANSWER
    assert alice.run("And its helicase?", thread_id=thread).thread_id == thread

    assert bob.threads() == []  # nothing of alice's shows for bob
    with pytest.raises(ClientError) as refused:
        bob.history(thread)
    assert refused.value.key == "err.not_found"
    with pytest.raises(ClientError):
        bob.delete_thread(thread)

    assert alice.delete_thread(thread) == {"deleted": thread}
    assert alice.threads() == []
    with pytest.raises(ClientError, match="Not found"):
        alice.history(thread)


def test_library_through_ingest_jobs_per_user(api_server, http_client):
    alice = http_client(api_server.url, api_server.keys["alice"])
    bob = http_client(api_server.url, api_server.keys["bob"])
    seen = []
    job = alice.ingest([("rep-helicase.md", b"# Rep helicase\n\nThe SF3 helicase domain of Rep unwinds the viral DNA."),
                        ("records.jsonl", b'{"id": "x", "text": "ok"}\n{not json\n')],
                       progress=lambda done, total, name: seen.append((done, total)))
    assert job["state"] == "done", job
    results = {r["file"]: r for r in job["results"]}
    doc_id = results["rep-helicase.md"]["doc_id"]
    assert doc_id.endswith("rep-helicase") and results["rep-helicase.md"]["chunks"] >= 1
    assert "records.jsonl" in results and results["records.jsonl"].get("error"), results
    assert seen[-1] == (2, 2) and seen[0][1] == 2

    mine = alice.list_documents("mine")
    assert [d["id"] for d in mine] == [doc_id] and mine[0]["owner"] == "alice" and not mine[0]["shared"]
    assert {d["id"] for d in alice.list_documents("all")} == {doc_id, "pcv2-rep"}
    assert [d["id"] for d in bob.list_documents("all")] == ["pcv2-rep"]  # the shared library only
    assert alice.stats()["documents"] == 2 and bob.stats()["documents"] == 1

    hits = alice.search("helicase unwinds DNA", k=3)
    assert hits[0].doc_id == doc_id and hits[0].text and hits[0].score > 0
    assert all(h.doc_id != doc_id for h in bob.search("helicase unwinds DNA", k=3))
    with pytest.raises(ClientError):
        bob.remove(doc_id)
    assert alice.remove(doc_id)["deleted"] == doc_id
    assert alice.list_documents("mine") == []


def test_sign_in_preferences_and_wrong_keys(api_server, http_client):
    key = sign_in_with_password(api_server.url, "alice", "alice-password")["api_key"]
    alice = http_client(api_server.url, key)
    me = alice.me()
    assert me["user"] == "alice" and me["role"] == "user" and me["preferences"]["lang"] == "en"
    assert alice.set_preferences(lang="zh")["preferences"]["lang"] == "zh"
    assert http_client(api_server.url, api_server.keys["alice"]).me()["preferences"]["lang"] == "zh"  # any session
    assert http_client(api_server.url, api_server.keys["bob"]).me()["preferences"]["lang"] == "en"

    with pytest.raises(ClientError) as wrong:
        sign_in_with_password(api_server.url, "alice", "not-her-password")
    assert wrong.value.key == "err.auth" and "登录" in wrong.value.text("zh")
    with pytest.raises(ClientError, match="refused the key"):
        http_client(api_server.url, "wrong").run("hello")
    with pytest.raises(ClientError, match="rejected the input"):
        http_client(api_server.url, api_server.keys["bob"]).run("   ")
    with pytest.raises(ClientError, match="Cannot reach the bioagent API"):
        http_client("http://127.0.0.1:9").run("hello")
    assert http_client("http://127.0.0.1:9").readiness()["api"]["ok"] is False
    ready = http_client(api_server.url, key).readiness()
    assert ready["api"]["ok"] and ready["qdrant"]["ok"]


def test_sequence_analysis_is_the_same_over_http_and_in_process(api_server, http_client, make_client):
    over_http = http_client(api_server.url, api_server.keys["bob"]).analyze_sequence(f">rep\n{PCV2_REP}", scan=False)
    local = make_client().analyze_sequence(f">rep\n{PCV2_REP}", scan=False)
    assert over_http == local
    assert over_http["scan"] is None and not over_http["scan_error"]  # the scan toggle is honoured
    names = {m["name"] for m in over_http["motifs"]}
    assert len(names) >= 3 and over_http["verdict"].startswith("CRESS Rep"), (names, over_http["verdict"])
    with pytest.raises(ClientError) as empty:
        http_client(api_server.url, api_server.keys["bob"]).analyze_sequence("  ")
    assert empty.value.key == "err.empty_sequence"


def test_dna_gives_the_genome_and_its_map_over_http_and_in_process(api_server, http_client, make_client):
    genome_text = (DATA / "genomes" / "NC_005148.1.fna").read_text()
    http = http_client(api_server.url, api_server.keys["bob"])
    page = http.analyze_sequence(genome_text, scan=False)
    record = page["genome"]["records"][0]
    assert record["length"] == 1768 and record["topology"] == "circular" and record["genes"]
    assert page["verdict"].startswith("CRESS Rep")  # the genome's Rep was chosen among its proteins
    mapped = http.genome(genome_text, with_map=True)
    assert mapped["map_png_base64"] and len(mapped["map_png_base64"]) > 1000
    local = make_client().genome(genome_text, with_map=True)
    assert local["records"][0]["genes"] == mapped["records"][0]["genes"]
    assert local["map_png_base64"][:40] == mapped["map_png_base64"][:40]  # a PNG both ways


def test_an_empty_upload_is_refused_with_the_field(api_server, http_client):
    with pytest.raises(ClientError) as refused:
        http_client(api_server.url, api_server.keys["bob"]).ingest([("empty.txt", b"")])
    assert refused.value.key == "err.rejected" and "empty" in str(refused.value)
