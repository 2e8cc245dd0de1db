"""The kb CLI as a person and a script use it: readable output, --json, clean errors with non-zero exits."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.fixtures.kb import KB_DATA


@pytest.fixture
def cli(data_dir, monkeypatch):
    """Run `bioagent ...` in-process against a fresh data dir (multilingual vectors off to keep it quick)."""
    from agent.cli import app

    from tests.fixtures.kb import shared_cache_dir

    monkeypatch.setenv("BIOAGENT_EMBEDDING__MULTILINGUAL", "false")
    monkeypatch.setenv("BIOAGENT_EMBEDDING__CACHE_DIR", str(shared_cache_dir()))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    yield run
    from agent.kb import get_knowledge_base

    get_knowledge_base().close()


def test_ingest_search_list_stats_remove(cli):
    r = cli("ingest", str(KB_DATA / "library"), str(KB_DATA / "records.jsonl"))
    assert r.exit_code == 0, r.output
    assert "8 added" in r.output and "knowledge base: 8 documents" in r.output

    r = cli("ingest", str(KB_DATA / "library"), "--json")
    rep = json.loads(r.output)
    assert r.exit_code == 0 and rep["chunks_written"] == 0 and len(rep["unchanged_docs"]) == 5

    r = cli("search", "Which helicase motif binds ATP?", "--k", "2")
    assert r.exit_code == 0
    assert "Conserved motifs of the CRESS-DNA replication-associated protein" in r.output
    assert "doi:10.0000/bioagent-test.rep-motifs" in r.output and "dense=" in r.output

    r = cli("search", "virus", "--json", "--k", "10", "--source", "metagenomics", "--year-min", "2015")
    hits = json.loads(r.output)
    assert r.exit_code == 0 and {h["doc_id"] for h in hits} == {"rec:smaco", "rec:redondo"}
    assert all({"chunk_id", "doc_id", "title", "source", "scores", "score"} <= set(h) for h in hits)

    r = cli("search", "virus", "--json", "--doc", "geminivirus", "--mode", "sparse")
    assert {h["doc_id"] for h in json.loads(r.output)} == {"geminivirus"}

    r = cli("kb", "list")
    assert r.exit_code == 0 and "rep-motifs" in r.output and "doi:10.0000/bioagent-test.rep-motifs" in r.output
    docs = json.loads(cli("kb", "list", "--json").output)
    assert len(docs) == 8 and {"doc_id", "title", "chunks"} <= set(docs[0])

    st = json.loads(cli("kb", "stats", "--json").output)
    assert st["documents"] == 8 and st["backend"] == "qdrant-edge"
    assert "documents" in cli("kb", "stats").output

    r = cli("kb", "remove", "geminivirus", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["doc_id"] == "geminivirus"
    assert json.loads(cli("kb", "stats", "--json").output)["documents"] == 7


@pytest.mark.parametrize(
    "args, message, code",
    [
        (("kb", "remove", "no-such-doc"), "no document with id 'no-such-doc'", 1),
        (("ingest", "/no/such/file.pdf"), "no such file or directory", 1),
        (("search", "x", "--mode", "fuzzy"), "--mode must be hybrid, dense or sparse", 2),
        (("search", "   "), "the query is empty", 2),
        (("search", "x", "--rerank"), "no rerank model is set", 2),
        (("search", "x", "--year-min", "2020", "--year-max", "2000"), "year_min 2020 is after year_max 2000", 2),
        (("ingest",), "give files or folders to ingest (or --reindex)", 2),
        (("kb", "multilingual"), "the multilingual route is off", 2),
    ],
)
def test_errors_are_one_clear_line_and_nonzero(cli, args, message, code):
    r = cli(*args)
    assert r.exit_code == code
    assert message in r.output
    assert "Traceback" not in r.output


def test_bad_file_exits_nonzero_naming_it(cli, tmp_path):
    bad = tmp_path / "records.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\nnot json\n')
    r = cli("ingest", str(bad))
    assert r.exit_code == 1 and "records.jsonl:2: invalid JSON" in r.output and "Traceback" not in r.output
    r = cli("ingest", str(bad), "--json")
    assert r.exit_code == 1 and "records.jsonl:2" in json.loads(r.output.strip().splitlines()[-1])["error"]


def test_folder_with_one_bad_file_ingests_the_rest_and_exits_1(cli, tmp_path):
    (tmp_path / "ok.md").write_text("# OK\nCircoviruses are small.")
    (tmp_path / "empty.md").write_text("")
    r = cli("ingest", str(tmp_path))
    assert r.exit_code == 1
    assert "1 added" in r.output and "empty.md" in r.output


def test_empty_search_says_how_to_fill_the_knowledge_base(cli):
    r = cli("search", "anything")
    assert r.exit_code == 0 and "bioagent ingest" in r.output


def test_changed_settings_show_in_stats_and_ingest_reindex_rebuilds(cli, monkeypatch):
    from agent.kb import get_knowledge_base
    from agent.settings import get_settings

    assert cli("ingest", str(KB_DATA / "library")).exit_code == 0
    get_knowledge_base().close()
    monkeypatch.setenv("BIOAGENT_CHUNKING__CHUNK_TOKENS", "64")
    get_settings.cache_clear()
    r = cli("kb", "stats")
    assert "chunk_tokens: 200 -> 64" in r.output and "stale_documents" in r.output and "--reindex" in r.output
    st = json.loads(cli("kb", "stats", "--json").output)
    assert st["stale_documents"] == 5 and st["index_changes"] == "chunk_tokens: 200 -> 64"
    r = cli("ingest", "--reindex")
    assert r.exit_code == 0 and "reindex: 5 stale documents rebuilt" in r.output, r.output
    st = json.loads(cli("kb", "stats", "--json").output)
    assert st["stale_documents"] == 0 and st["index_changes"] == "none"
