"""Sequence endpoints over a real uvicorn: the real sequence core (Rep motifs, ProtParam, an ESM-2 scan with a tiny
random-weight checkpoint through the real loading path) and the real genome core on real genomes (PCV2)."""

from __future__ import annotations

import base64
import time

import httpx

from tests.api.helpers import AUTH, FixedLatencyChatModel
from tests.fixtures.sequence import SEQ_DATA

PCV2_GENOME = (SEQ_DATA / "genomes" / "NC_005148.1.fna").read_text()


def test_analyze_a_protein_with_scan_and_mutations(tiny_esm_env, make_server, pcv2_rep):
    server = make_server()
    r = httpx.post(f"{server.url}/v1/sequence/analyze", headers=AUTH, timeout=120,
                   json={"sequence": f">pcv2_rep\n{pcv2_rep}", "scan": True, "mutations": [f"{pcv2_rep[3]}4A"]})
    assert r.status_code == 200, r.text
    body = r.json()
    rec = body["records"][0]
    assert body["chosen"] == "pcv2_rep" and rec["annotation"]["call"] == "yes", rec["annotation"]
    assert rec["length"] == len(pcv2_rep) and rec["properties"], rec
    assert len(body["scan"]["matrix"]) == len(pcv2_rep) and body["scan"]["wild_type"] == pcv2_rep
    assert body["mutations"]["variants"][0]["variant"] == f"{pcv2_rep[3]}4A"
    assert "genome" not in body

    no_scan = httpx.post(f"{server.url}/v1/sequence/analyze", headers=AUTH, timeout=60,
                         json={"sequence": pcv2_rep, "scan": False}).json()
    assert no_scan["scan"] is None and no_scan["records"][0]["annotation"]["call"] == "yes"
    bad = httpx.post(f"{server.url}/v1/sequence/analyze", headers=AUTH, json={"sequence": "MKV*JJ#"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "sequence"], bad.text
    bad_mut = httpx.post(f"{server.url}/v1/sequence/analyze", headers=AUTH,
                         json={"sequence": pcv2_rep, "mutations": ["nonsense"]})
    assert bad_mut.status_code == 422 and bad_mut.json()["detail"][0]["loc"] == ["body", "mutations"]
    metrics = httpx.get(f"{server.url}/metrics", headers=AUTH).text
    assert 'bioagent_runs_total{endpoint="sequence_analyze",outcome="ok"} 2.0' in metrics


def test_dna_genome_and_report(tiny_esm_env, make_server, data_dir, kb):
    """The report calls the genome tool of the real sequence MCP server (stdio)."""
    from agent.runner import AgentService
    from tests.api.conftest import api_settings

    service = AgentService(api_settings(data_dir), chat_model=FixedLatencyChatModel(), knowledge_base=kb)
    server = make_server(service=service)
    g = httpx.post(f"{server.url}/v1/sequence/genome", headers=AUTH, timeout=300,
                   json={"sequence": PCV2_GENOME, "map": True})
    assert g.status_code == 200, g.text
    rec = g.json()["records"][0]
    assert rec["topology"] == "circular" and any(gene.get("role") == "rep" for gene in rec["genes"]), rec["genes"]
    assert base64.b64decode(g.json()["map_png_base64"]).startswith(b"\x89PNG")

    a = httpx.post(f"{server.url}/v1/sequence/analyze", headers=AUTH, timeout=300,
                   json={"sequence": PCV2_GENOME, "scan": False})
    assert a.status_code == 200, a.text
    assert a.json()["genome"]["records"][0]["id"] == rec["id"]
    assert any(r["annotation"]["call"] == "yes" for r in a.json()["records"]), "the Rep ORF is found and called"

    rep = httpx.post(f"{server.url}/v1/sequence/report", headers=AUTH, timeout=300,
                     json={"sequence": PCV2_GENOME, "lang": "zh", "scan": False, "literature": False})
    assert rep.status_code == 200, rep.text
    assert rep.json()["markdown"].strip()


def test_heavy_endpoints_share_the_run_admission(make_server, pcv2_rep):
    server = make_server(model=FixedLatencyChatModel(latency_s=3.0), max_concurrent_runs=1)
    with httpx.Client(timeout=30) as client:
        import threading

        t = threading.Thread(target=lambda: client.post(f"{server.url}/v1/runs", headers=AUTH,
                                                        json={"message": "What does Rep do?"}))
        t.start()
        deadline = time.monotonic() + 10
        while not server.ctx.active:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        for path, body in [("/v1/sequence/analyze", {"sequence": pcv2_rep, "scan": False}),
                           ("/v1/sequence/genome", {"sequence": PCV2_GENOME}),
                           ("/v1/sequence/report", {"sequence": pcv2_rep})]:
            r = httpx.post(f"{server.url}{path}", headers=AUTH, json=body)
            assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_runs", (path, r.text)
        r = httpx.post(f"{server.url}/v1/ingest", headers=AUTH, files=[("files", ("a.md", b"# A\n\ntext\n"))])
        assert r.status_code == 429, r.text
        t.join()
