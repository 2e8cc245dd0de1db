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


def test_annotate_text_names_nearest_and_runner_up(app, settings):
    """An Adamaviridae evaluation Rep: the nearest reference (its family) and the runner-up of another family."""
    from mcp_servers.sequence.rep_data import read_fasta_text

    (_, seq), = [(h, s) for h, s in read_fasta_text((SEQ_DATA / "rep_eval_subset.faa").read_text())
                 if h.startswith("AMB43009.1 ")]
    res = CliRunner().invoke(app, ["seq", "annotate", seq])
    assert res.exit_code == 0, res.output
    assert "family: Adamaviridae" in res.output
    assert "nearest reference: ALE29598 (Adamaviridae, 46% identity)" in res.output
    runner = [line for line in res.output.splitlines() if "runner-up:" in line]
    assert len(runner) == 1 and "(Draupnirviridae, 36% identity)" in runner[0] and "close call" not in runner[0]
