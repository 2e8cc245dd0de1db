"""`bioagent seq ...` commands (registered on a bare Typer app)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from mcp_servers.sequence.cli import register
from tests.fixtures.sequence import SEQ_DATA


@pytest.fixture
def app():
    a = typer.Typer()
    register(a)
    return a


def test_annotate_file_json(app, settings):
    res = CliRunner().invoke(app, ["seq", "annotate", str(SEQ_DATA / "control_proteins.faa"), "--json"])
    assert res.exit_code == 0, res.output
    calls = {r["id"]: r["call"] for r in json.loads(res.output)["records"]}
    assert set(calls.values()) == {"no"} and len(calls) == 6


def test_info_genbank_translate(app, settings):
    res = CliRunner().invoke(app, ["seq", "info", str(SEQ_DATA / "genomes" / "NC_005148.1.gbk"), "--translate"])
    assert res.exit_code == 0, res.output
    assert "NP_937956.1: 314 aa" in res.output


def test_score_and_scan_with_heatmap(app, tiny_esm_env, pcv2_rep, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["seq", "score", pcv2_rep, "K5A, K5A:H57A", "--json"])
    assert res.exit_code == 0, res.output
    assert [v["variant"] for v in json.loads(res.output)["variants"]] == ["K5A", "K5A:H57A"]
    png = tmp_path / "scan.png"
    res = runner.invoke(app, ["seq", "scan", pcv2_rep[:80], "--heatmap", str(png), "--top", "3"])
    assert res.exit_code == 0, res.output
    assert "most constrained" in res.output and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_exit_2(app, tiny_esm_env, pcv2_rep):
    res = CliRunner().invoke(app, ["seq", "score", pcv2_rep, "G5A"])
    assert res.exit_code == 2
    assert "has 'K' at position 5" in res.output
