"""`bioagent lit ...` against the local fake services."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from tests.fixtures.literature import Reply


@pytest.fixture
def cli():
    from agent.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["lit", *args])


def test_pubmed_search_prints_records(cli, lit_settings, fake_literature):
    out = cli("pubmed", "telomere pancreatic", "--max", "2", "--abstracts")
    assert out.exit_code == 0, out.output
    assert "PubMed: 7 hits" in out.output
    assert "1. Leucocyte telomere length" in out.output
    assert "PMID:27797938" in out.output and "doi:10.1136/gutjnl-2016-312510" in out.output
    assert "| OBJECTIVE: Telomere shortening" in out.output
    data = json.loads(cli("pubmed", "telomere", "--max", "1", "--json", "--sort", "pub_date").output)
    assert data["total_hits"] == 7 and data["articles"][0]["pmid"] == "27797938"
    assert fake_literature.hits("/esearch.fcgi")[-1].params["sort"] == "pub_date"


def test_europepmc_search(cli, lit_settings, fake_literature):
    out = cli("europepmc", "cancer", "--max", "3", "--open-access")
    assert out.exit_code == 0, out.output
    assert "Europe PMC: 5059039 hits" in out.output
    assert "open access: https://europepmc.org/articles/PMC12124214" in out.output
    data = json.loads(cli("europepmc", "cancer", "--json").output)
    assert [a["id"] for a in data["articles"]] == ["39709209", "39709208", "40468710"]


def test_fetch(cli, lit_settings, fake_literature):
    data = json.loads(cli("fetch", "27797938", "PMID:9997", "12345678", "--json").output)
    assert [a["pmid"] for a in data["articles"]] == ["27797938", "9997"]
    assert data["not_found"] == ["12345678"]
    assert cli("fetch", "12345678").exit_code == 1
    bad = cli("fetch", "not-a-pmid")
    assert bad.exit_code == 2 and "not a PubMed ID" in bad.output


def test_pull_with_query_and_pmids(cli, lit_settings, fake_literature, monkeypatch):
    from mcp_servers.literature import library
    from tests.fixtures.literature import MemoryKB

    kb = MemoryKB(existing=["pmid:9997"])
    monkeypatch.setattr(library, "_knowledge_base", lambda settings: kb)
    out = cli("pull", "circovirus Rep protein", "--max", "200")
    assert out.exit_code == 0, out.output
    assert "added 6, already in library 1" in out.output and "PubMed hits for the query: 7" in out.output
    assert fake_literature.hits("/esearch.fcgi")[0].params["retmax"] == "200"
    again = json.loads(cli("pull", "--pmids", "27797938,11748933", "--pmids", "88888888", "--json").output)
    assert again["added"] == [] and again["skipped_existing"] == ["27797938", "11748933"]
    assert again["not_found"] == ["88888888"]  # known PMIDs are skipped before fetching, only this one is asked
    assert fake_literature.hits("/efetch.fcgi")[-1].params["id"] == "88888888"
    nothing = cli("pull")
    assert nothing.exit_code == 2


def test_remote_failures_are_one_line_errors(cli, lit_settings, fake_literature, monkeypatch):
    fake_literature.script("/eutils/esearch.fcgi", *[Reply(500, "boom")] * 5)
    out = cli("pubmed", "circovirus")
    assert out.exit_code == 1 and "error: PubMed answered HTTP 500 after 4 attempts" in out.output
    assert "Traceback" not in out.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from agent.settings import get_settings

    monkeypatch.setenv("BIOAGENT_LITERATURE__EUROPEPMC_URL", f"http://127.0.0.1:{port}/rest")
    get_settings.cache_clear()
    out = cli("europepmc", "circovirus")
    assert out.exit_code == 1 and "error: Europe PMC unreachable: " in out.output


def test_claude_config_prints_an_absolute_command():
    from typer.testing import CliRunner

    from agent.cli import app

    data = json.loads(CliRunner().invoke(app, ["mcp", "claude-config", "--server", "literature"]).output)
    server = data["mcpServers"]["bioagent-literature"]
    assert server["args"] == ["mcp", "literature"]
    assert server["command"].startswith("/") and server["command"].endswith("bioagent")


def test_pull_full_text_flag(cli, lit_settings, fake_literature, monkeypatch):
    from mcp_servers.literature import library
    from tests.fixtures.literature import LIT_DATA, MemoryKB

    kb = MemoryKB()
    monkeypatch.setattr(library, "_knowledge_base", lambda settings: kb)
    fake_literature.full_texts["PMC5442267"] = (LIT_DATA / "jats" / "pntd.0002065.nxml").read_bytes()
    out = json.loads(cli("pull", "--pmids", "27797938,29963580", "--full-text", "--json").output)
    assert out["full_text"] == ["27797938"] and sorted(out["added"]) == ["27797938", "29963580"]
    assert kb.docs["pmid:27797938"].metadata["full_text"] is True and kb.docs["pmid:29963580"].sections is None
