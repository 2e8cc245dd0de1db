"""The literature MCP server through the real MCP Python client: stdio (subprocess) and streamable HTTP
(`bioagent mcp literature --transport http`, with and without the bearer token)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.fixtures.literature import Reply

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"search_library", "search_pubmed", "search_europepmc", "fetch_abstracts", "add_to_library"}


def _text(result) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def _data(result) -> dict:
    assert not result.isError, _text(result)
    if result.structuredContent is not None:
        return result.structuredContent
    return json.loads(_text(result))


async def _check_tool_list(session: ClientSession) -> None:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 60, tool.name
        assert tool.inputSchema.get("properties"), tool.name
    assert "query" in tools["search_library"].inputSchema["required"]
    assert "pmids" in tools["fetch_abstracts"].inputSchema["required"]


def test_stdio_server_end_to_end(lit_settings, fake_literature):
    fake_literature.script("/eutils/efetch.fcgi", Reply(200, "<PubmedArticleSet><PubmedArticle>"))  # first efetch
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_servers.literature.server"], env=dict(os.environ), cwd=str(ROOT)
    )

    async def scenario():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            t0 = time.monotonic()
            init = await session.initialize()
            assert init.serverInfo.name == "bioagent-literature"
            assert time.monotonic() - t0 < 30
            await _check_tool_list(session)

            # a malformed answer from PubMed is a readable tool error, and the server lives on
            bad = await session.call_tool("fetch_abstracts", {"pmids": ["27797938"]})
            assert bad.isError and "PubMed returned a malformed response" in _text(bad)
            records = _data(await session.call_tool("fetch_abstracts", {"pmids": ["27797938", "99999999"]}))
            assert records["articles"][0]["doi"] == "10.1136/gutjnl-2016-312510"
            assert records["articles"][0]["abstract"].startswith("OBJECTIVE:")
            assert records["not_found"] == ["99999999"]

            found = _data(await session.call_tool("search_pubmed", {"query": "telomere", "max_results": 2}))
            assert found["total_hits"] == len(fake_literature.records) and found["returned"] == 2
            assert found["articles"][0]["pmid"] == "27797938"
            assert len(found["articles"][0]["authors"]) == 11  # 10 shown + "... (22 authors in all)"

            epmc = _data(await session.call_tool("search_europepmc", {"query": "cancer", "max_results": 3,
                                                                      "include_abstracts": False}))
            assert epmc["total_hits"] == 5059039 and "abstract" not in epmc["articles"][0]
            assert epmc["articles"][1]["open_access_links"]

            bad_input = await session.call_tool("fetch_abstracts", {"pmids": ["PMC12345"]})
            assert bad_input.isError and "not a PubMed ID" in _text(bad_input)
            schema_error = await session.call_tool("search_pubmed", {"query": "x", "max_results": 100000})
            assert schema_error.isError

            empty = _data(await session.call_tool("search_library", {"query": "telomere"}))
            assert empty["count"] == 0 and "note" in empty

            added = _data(await session.call_tool("add_to_library", {"query": "telomere", "max_results": 50}))
            assert len(added["added"]) == len(fake_literature.records) and "added 7" in added["summary"]
            again = _data(await session.call_tool("add_to_library", {"pmids": ["27797938"]}))
            assert again["added"] == [] and again["skipped_existing"] == ["27797938"]

            hits = _data(await session.call_tool(
                "search_library", {"query": "leucocyte telomere length pancreatic cancer", "k": 2}))
            top = hits["passages"][0]
            assert top["pmid"] == "27797938" and top["source"] == "pubmed" and top["year"] == 2017
            assert top["title"].startswith("Leucocyte telomere") and top["score"] > 0 and top["text"]
            filtered = _data(await session.call_tool(
                "search_library", {"query": "telomere", "k": 3, "year_max": 2001}))
            assert all(p["year"] <= 2001 for p in filtered["passages"])

            # PubMed down (503 on every try): a clear error, the library still answers
            fake_literature.script("/eutils/esearch.fcgi", *[Reply(503, "down")] * 10)
            down = await session.call_tool("search_pubmed", {"query": "circovirus"})
            assert down.isError and "PubMed answered HTTP 503 after 4 attempts" in _text(down)
            still = _data(await session.call_tool("search_library", {"query": "cryopreservation", "k": 1}))
            assert still["passages"][0]["pmid"] == "11748933"

    anyio.run(scenario)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(lit_settings, fake_literature):
    """`bioagent mcp literature --transport http` on a free port, with a bearer token."""
    port = _free_port()
    token = "s3cret-token"
    env = dict(os.environ, BIOAGENT_MCP__BEARER_TOKEN=token)
    bioagent = Path(sys.executable).parent / "bioagent"
    cmd = [str(bioagent)] if bioagent.exists() else [sys.executable, "-m", "agent.cli"]
    proc = subprocess.Popen(
        cmd + ["mcp", "literature", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("HTTP MCP server did not start within 60 s") from None
            time.sleep(0.1)
    yield url, token
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_http_server_requires_the_bearer_token(http_server):
    url, token = http_server
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
        resp = httpx.post(url, json=init, headers={**headers, **auth}, timeout=10)
        assert resp.status_code == 401, auth
        assert resp.headers["www-authenticate"].startswith("Bearer")
    ok = httpx.post(url, json=init, headers={**headers, "Authorization": f"Bearer {token}"}, timeout=10)
    assert ok.status_code == 200


def test_http_server_with_the_mcp_client(http_server, fake_literature):
    url, token = http_server

    async def scenario():
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            async with streamable_http_client(url, http_client=client) as (read, write, _), \
                    ClientSession(read, write) as session:
                await session.initialize()
                await _check_tool_list(session)
                found = _data(await session.call_tool("search_pubmed", {"query": "telomere", "max_results": 1}))
                assert found["articles"][0]["pmid"] == "27797938"
                bad = await session.call_tool("fetch_abstracts", {"pmids": ["x1"]})
                assert bad.isError and "not a PubMed ID" in _text(bad)

        async with httpx.AsyncClient(timeout=10) as client:  # the MCP client without the token is refused
            with pytest.raises((ExceptionGroup, httpx.HTTPStatusError)) as refused:
                async with streamable_http_client(url, http_client=client) as (read, write, _), \
                        ClientSession(read, write) as session:
                    with anyio.fail_after(10):
                        await session.initialize()
            assert "401 Unauthorized" in repr(refused.value)

    anyio.run(scenario)


def test_build_server_offline_errors_are_tool_errors(lit_settings):
    """In-process: with no reachable service every remote tool answers 'X unreachable: ...'."""
    from mcp.shared.memory import create_connected_server_and_client_session

    from mcp_servers.literature.server import build_server

    dead = lit_settings.model_copy(update={"literature": lit_settings.literature.model_copy(
        update={"eutils_url": f"http://127.0.0.1:{_free_port()}/eutils",
                "europepmc_url": f"http://127.0.0.1:{_free_port()}/rest"})})
    server = build_server(dead)

    async def scenario():
        async with create_connected_server_and_client_session(server._mcp_server) as session:
            t0 = time.monotonic()
            r1 = await session.call_tool("search_pubmed", {"query": "circovirus"})
            r2 = await session.call_tool("search_europepmc", {"query": "circovirus"})
            r3 = await session.call_tool("add_to_library", {"pmids": ["123"]})
            assert time.monotonic() - t0 < 5
            assert r1.isError and "PubMed unreachable: " in _text(r1)
            assert r2.isError and "Europe PMC unreachable: " in _text(r2)
            assert r3.isError and "PubMed unreachable: " in _text(r3)
            r4 = await session.call_tool("add_to_library", {})
            assert r4.isError and "give a PubMed query or at least one PMID" in _text(r4)

    anyio.run(scenario)


def test_pmids_may_be_numbers(lit_settings, fake_literature):
    """LLMs often send PMIDs as JSON numbers; the tools take both."""
    from mcp.shared.memory import create_connected_server_and_client_session

    from mcp_servers.literature.server import build_server

    async def scenario():
        async with create_connected_server_and_client_session(build_server(lit_settings)._mcp_server) as session:
            got = _data(await session.call_tool("fetch_abstracts", {"pmids": [27797938, "PMID:9997"]}))
            assert [a["pmid"] for a in got["articles"]] == ["27797938", "9997"]

    anyio.run(scenario)
