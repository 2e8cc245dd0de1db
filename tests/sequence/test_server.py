"""The MCP server through the real MCP Python client: stdio and streamable HTTP (with bearer token)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("esm")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402

from tests.fixtures.sequence import SEQ_DATA  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"validate_sequence", "protein_properties", "score_mutations", "mutational_scan", "embed_sequence",
         "predict_contacts", "annotate_rep", "annotate_genome"}


def _env(checkpoint: Path, data_dir: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update(BIOAGENT_SEQUENCE__ESM_MODEL=str(checkpoint), BIOAGENT_SEQUENCE__ESM_DEVICE="cpu",
               BIOAGENT_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **extra)
    return env


def _payload(result) -> dict:
    assert not result.isError, result.content[0].text
    return json.loads(result.content[0].text)


async def _exercise(session: ClientSession, pcv2_rep: str) -> None:
    await session.initialize()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    for t in tools.values():
        assert len(t.description) > 120, t.name
        assert t.inputSchema["properties"]["sequence"]["description"]
    genome = _payload(await session.call_tool(
        "annotate_genome", {"sequence": (ROOT / "tests/data/sequences/genomes/NC_005148.1.gbk").read_text()}))
    rec = genome["records"][0]
    assert rec["is_cress"] == "yes" and rec["origin"]["nonanucleotide"] == "AAGTATTAC" and "sequence" not in rec
    assert [g["strand"] for g in rec["genes"] if g["role"] in ("rep", "cap")] == [1, -1]
    fasta = f">NP_937956.1 PCV2 Rep\n{pcv2_rep}\n"
    rep = _payload(await session.call_tool("annotate_rep", {"sequence": fasta}))
    assert rep["records"][0]["call"] == "yes"
    pcv2 = rep["records"][0]
    assert pcv2["is_rep"] and pcv2["confidence"] >= 0.9 and pcv2["reason"] and pcv2["reasons"] == [pcv2["reason"]]
    assert pcv2["family"]["name"] == "Circoviridae" and pcv2["family"]["nearest"]["identity"] > 0.9
    assert {m["motif"] for m in pcv2["motifs"]} >= {"motif_II", "walker_A"}
    controls = _payload(await session.call_tool(
        "annotate_rep", {"sequence": (SEQ_DATA / "rep_negative_controls.faa").read_text()}))["records"]
    assert len(controls) == 8 and {r["call"] for r in controls} == {"no"}  # NS1, IS200 TnpA, Ras, E1, TTV ORF1
    ttv = _payload(await session.call_tool(
        "annotate_genome", {"sequence": (SEQ_DATA / "genomes/NC_015783.1.gbk").read_text()}))["records"][0]
    assert ttv["is_cress"] == "no" and ttv["origin"] is None and not [g for g in ttv["genes"] if g["role"] == "rep"]
    msv = (SEQ_DATA / "rep_proteins.faa").read_text().split(">Q91MF7.1")[1].split(">")[0]
    repa = _payload(await session.call_tool("annotate_rep", {"sequence": ">Q91MF7.1" + msv}))["records"][0]
    assert repa["call"] == "huh_only" and "RepA" in repa["reason"]
    scored = _payload(await session.call_tool("score_mutations", {"sequence": pcv2_rep, "mutations": "K5A:H57A"}))
    assert scored["model"] == "esm2_t2_tiny_random" and len(scored["variants"]) == 1
    scan = _payload(await session.call_tool("mutational_scan", {"sequence": fasta[:200], "top": 3}))
    assert len(scan["summary"]["most_constrained"]) == 3 and "matrix" not in scan
    props = _payload(await session.call_tool("protein_properties", {"sequence": pcv2_rep}))
    assert props["records"][0]["length"] == 314
    parsed = _payload(await session.call_tool("validate_sequence", {"sequence": "mkv*"}))
    assert parsed["records"][0]["sequence"] == "MKV"
    emb = _payload(await session.call_tool("embed_sequence", {"sequence": pcv2_rep[:40]}))
    assert emb["dim"] == 32
    con = _payload(await session.call_tool("predict_contacts", {"sequence": pcv2_rep[:60], "top": 5}))
    assert len(con["top_contacts"]) == 5
    # bad inputs are tool errors with readable messages, and the server keeps serving
    bad = {
        "empty": ("annotate_rep", {"sequence": ""}, "Empty input"),
        "letters": ("validate_sequence", {"sequence": "MKV1L"}, "position 4: '1'"),
        "wild type": ("score_mutations", {"sequence": pcv2_rep, "mutations": "G5A"}, "has 'K' at position 5"),
        "range": ("score_mutations", {"sequence": pcv2_rep, "mutations": "K999A"}, "outside the sequence"),
        "too long": ("mutational_scan", {"sequence": "MKVL" * 12_500}, "above the limit"),
        "fasta": ("protein_properties", {"sequence": "oops\n>a\nMK"}, "Malformed FASTA"),
        "dna": ("score_mutations", {"sequence": "ATG" + "GCT" * 80 + "TAA", "mutations": "A2G"}, "translate_dna"),
        "genome of a protein": ("annotate_genome", {"sequence": pcv2_rep}, "are protein sequences"),
    }
    for name, (tool, args, text) in bad.items():
        res = await session.call_tool(tool, args)
        assert res.isError, name
        assert text in res.content[0].text, (name, res.content[0].text)
    again = _payload(await session.call_tool("annotate_rep", {"sequence": pcv2_rep}))
    assert again["records"][0]["call"] == "yes"


def test_stdio(tiny_esm_checkpoint, tmp_path, pcv2_rep):
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_servers.sequence.server"],
                                   env=_env(tiny_esm_checkpoint, tmp_path), cwd=str(ROOT))

    async def run():
        async with stdio_client(params) as (r, w):
            async with ClientSession(r, w) as session:
                await _exercise(session, pcv2_rep)

    asyncio.run(asyncio.wait_for(run(), 240))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tiny_esm_checkpoint, tmp_path):
    port = _free_port()
    token = "s3cret-token"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_servers.sequence.server", "--transport", "http", "--host", "127.0.0.1",
         "--port", str(port)],
        env=_env(tiny_esm_checkpoint, tmp_path, BIOAGENT_MCP__BEARER_TOKEN=token), cwd=str(ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stdout.read().decode())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("HTTP MCP server did not start")
    yield f"http://127.0.0.1:{port}/mcp", token
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_http_with_bearer_token(http_server, pcv2_rep):
    import httpx

    url, token = http_server
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-03-26", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    assert httpx.post(url, json=init, headers=headers).status_code == 401
    wrong = httpx.post(url, json=init, headers=headers | {"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")

    async def run():
        async with streamablehttp_client(url, headers={"Authorization": f"Bearer {token}"}) as (r, w, _):
            async with ClientSession(r, w) as session:
                await _exercise(session, pcv2_rep)

    asyncio.run(asyncio.wait_for(run(), 240))


def test_build_server_in_process(settings):
    from mcp_servers.sequence.server import build_server

    server = build_server(settings)

    async def names():
        return {t.name for t in await server.list_tools()}

    assert asyncio.run(names()) == TOOLS


def test_bioagent_mcp_sequence_command_over_stdio(tiny_esm_checkpoint, tmp_path, pcv2_rep):
    """What Claude Desktop runs: `bioagent mcp sequence` (here as `python -m agent.cli mcp sequence`)."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "agent.cli", "mcp", "sequence"],
                                   env=_env(tiny_esm_checkpoint, tmp_path), cwd=str(tmp_path))

    async def run():
        async with stdio_client(params) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                assert {t.name for t in (await session.list_tools()).tools} == TOOLS
                rep = _payload(await session.call_tool("annotate_rep", {"sequence": pcv2_rep}))
                assert rep["records"][0]["call"] == "yes"

    asyncio.run(asyncio.wait_for(run(), 240))


def test_claude_desktop_config_snippet():
    from mcp_servers.cli import claude_desktop_config

    cfg = claude_desktop_config()["mcpServers"]["bioagent-sequence"]
    assert cfg["args"] == ["mcp", "sequence"]
    assert Path(cfg["command"]).is_absolute() and Path(cfg["command"]).name.startswith("bioagent")
