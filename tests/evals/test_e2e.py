"""End-to-end eval runs on slices of the shipped data: real embedder, embedded Qdrant, llama.cpp, annotate_rep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.configs import BUILTIN, EvalConfig, apply_settings
from evals.harness import EvalError, EvalSpec, run_eval

DATA = Path(__file__).resolve().parents[1] / "data" / "evals"
PUBMEDQA = DATA / "pubmedqa_dev30.jsonl"


def _in_unit(value) -> bool:
    return value is None or 0.0 <= value <= 1.0


def test_retrieval_suite_on_30_pubmedqa_dev_items(settings, tmp_path):
    run = run_eval(EvalSpec(suite="retrieval", dataset=PUBMEDQA, out_dir=tmp_path / "runs", progress=False),
                   settings)
    entry = run.results["configs"]["default"]
    m = entry["metrics"]
    assert set(m) == {"bm25", "dense", "sparse", "hybrid"}
    assert entry["skipped_routes"] == {"rerank": "no rerank model set (BIOAGENT_RETRIEVAL__RERANK_MODEL)"}
    for route, vals in m.items():
        assert vals["queries"] == 30, route
        assert all(_in_unit(vals[k]) for k in ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"))
        assert vals["recall@1"] <= vals["recall@5"] <= vals["recall@10"]
        assert vals["latency_ms"]["mean"] > 0
    # Each question is about exactly one of 30 abstracts; measured on this slice: dense 1.00, bm25 0.97 recall@10.
    assert m["dense"]["recall@10"] >= 0.9 and m["bm25"]["recall@10"] >= 0.9 and m["hybrid"]["mrr"] >= 0.8
    item = entry["items"][0]
    assert item["gold"] == [f"pubmed:{item['id']}"] and item["routes"]["dense"]["top"]
    # what the run records
    run_info = run.results["run"]
    assert run_info["dataset"]["items"] == 30 and len(run_info["dataset"]["sha256"]) == 64
    assert "commit" in run_info["git"] and run_info["seed"] == 0
    assert entry["models"]["embedding"] == settings.embedding.model
    assert entry["settings"]["qdrant"]["collection"] == entry["index"]["collection"]
    assert entry["index"]["collection"].startswith("eval-pubmedqa-dev30-")
    files = {p.name for p in run.run_dir.iterdir()}
    assert {"results.json", "report.md", "metrics.png"} <= files
    saved = json.loads((run.run_dir / "results.json").read_text())
    assert saved["configs"]["default"]["metrics"]["dense"]["recall@10"] == m["dense"]["recall@10"]
    report = (run.run_dir / "report.md").read_text()
    assert "| default | bm25 (baseline) |" in report and "rerank skipped" in report

    # The CLI reuses the collection (same documents, same name) and compares two configurations side by side.
    res = CliRunner().invoke(_app(), ["eval", "compare", "--suite", "retrieval", "-d", str(PUBMEDQA), "--limit",
                                      "5", "--seed", "3", "-c", "agentic,dense-only", "--route", "dense",
                                      "--route", "bm25", "--json", "--no-write", "--no-progress"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["run"]["dataset"]["items"] == 5 and set(out["metrics"]) == {"agentic", "dense-only"}
    assert set(out["metrics"]["agentic"]) == {"dense", "bm25"}
    from agent.kb import get_knowledge_base

    kb = get_knowledge_base(apply_settings(settings, {"qdrant": {"collection": entry["index"]["collection"]},
                                                      "embedding": {"multilingual": False}}))
    assert kb.stats()["documents"] == 30  # not ingested twice


def _app():
    from agent.cli import app

    return app


def test_retrieval_suite_reuses_configured_collection(sample_kb, tmp_path):
    """A QA file without documents is scored against the configured library (sample library ingested)."""
    run = run_eval(EvalSpec(suite="retrieval", dataset=DATA / "cress_qa.jsonl", out_dir=None, progress=False,
                            routes=("dense", "sparse", "hybrid")), sample_kb.settings)
    entry = run.results["configs"]["default"]
    assert entry["index"] == {"collection": sample_kb.settings.qdrant.collection,
                              "store": sample_kb.settings.qdrant.url or "embedded", "documents": 0}
    assert run.results["configs"]["default"]["scored_items"] == 9 and run.run_dir is None
    m = entry["metrics"]
    assert m["hybrid"]["recall@5"] >= 0.6, m  # short, specific questions over 26 notes
    zh = next(i for i in entry["items"] if i["id"] == "q-zh-pcv2-rep")
    assert zh["routes"]["hybrid"]["top"]


def test_sequence_suite_cli(tmp_path):
    res = CliRunner().invoke(_app(), ["eval", "sequence", "-d", str(DATA / "sequence_tasks.jsonl"), "--out",
                                      str(tmp_path), "--json", "--no-progress"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    m = out["metrics"]["default"]
    assert m["items"] == 23 and m["errors"] == 0 and m["motifs_expected"] == 71
    # 17 CRESS Reps (RepA partial) and 6 non-Reps incl. AAV2 Rep78 and HHV-6A U94 as hard negatives
    assert m["call_accuracy"] >= 0.9 and m["call_confusion"]["no"]["yes"] == 0
    assert m["motif_recall"] >= 0.9 and m["motif_within_tolerance"] >= 0.9
    assert m["motif_exact"] <= m["motif_within_tolerance"]
    assert (Path(out["run_dir"]) / "report.md").is_file()


def test_cli_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q", "language": "fr"}\n')
    res = CliRunner().invoke(_app(), ["eval", "answers", "-d", str(bad), "--no-write"])
    assert res.exit_code == 2 and f"{bad} line 1, field 'language'" in res.output
    assert "Traceback" not in res.output
    res = CliRunner().invoke(_app(), ["eval", "retrieval", "-d", str(DATA / "sequence_tasks.jsonl")])
    assert res.exit_code == 2 and "needs a QA dataset" in res.output
    res = CliRunner().invoke(_app(), ["eval", "compare", "-d", str(PUBMEDQA), "-c", "nope"])
    assert res.exit_code == 2 and "unknown configuration 'nope'" in res.output
    with pytest.raises(EvalError, match="gold_tool"):
        run_eval(EvalSpec(suite="tools", dataset=PUBMEDQA, out_dir=None, progress=False))


def test_tools_suite_scoring_with_scripted_model(agent_settings, tmp_path):
    """Unit check of the tools pipeline (scripted model, fake tools): scores follow the calls actually made."""
    from tests.fixtures.agent import ScriptedChatModel, ToolRecorder, fake_tools

    rec = ToolRecorder()
    run = run_eval(EvalSpec(suite="tools", dataset=DATA / "cress_qa.jsonl", out_dir=tmp_path, progress=False,
                            configs=[BUILTIN["agentic"], EvalConfig("no-tools", overrides=BUILTIN["closed-book"].overrides)]),
                   agent_settings, chat_model=ScriptedChatModel(), tools=fake_tools(rec))
    ag = run.results["configs"]["agentic"]
    rows = {r["id"]: r for r in ag["items"]}
    assert set(rows) == {"t-annotate", "t-mutation", "t-none"}  # only items with gold_tool run
    called = {r["id"]: [c["name"] for c in r["tools"]["calls"]] for r in ag["items"]}
    assert "annotate_rep" in called["t-annotate"] and rows["t-annotate"]["tools"]["valid_args"]
    assert rows["t-mutation"]["tools"]["called"] == ("score_mutations" in called["t-mutation"])
    assert called["t-none"] == [] and rows["t-none"]["tools"]["called"] is True
    assert [n for n, _ in rec.calls].count("annotate_rep") >= 1
    off = run.results["configs"]["no-tools"]["metrics"]
    assert off["expected_tool_called"] == 0.0 and off["no_tool_when_none_expected"] == 1.0
    assert ag["metrics"]["perf"]["latency_ms"]["mean"] > 0 and ag["models"]["endpoint"] == "injected"
    assert "| agentic |" in (run.run_dir / "report.md").read_text()


@pytest.mark.slow
def test_answers_suite_against_llama_cpp(llm_server, settings, tmp_path):
    """3 PubMedQA dev items through the real graph on the embedded llama.cpp server (SmolLM2-135M)."""
    # guarded: the model writes the answers (auto would pick evidence mode for SmolLM2: no generation to score)
    s = apply_settings(settings, {"llm": {"base_url": llm_server, "max_tokens": 96},
                                  "agent": {"max_run_tokens": 6000, "time_limit_s": 60, "mode": "guarded"}})
    run = run_eval(EvalSpec(suite="answers", dataset=PUBMEDQA, limit=3, seed=0, out_dir=tmp_path, progress=False,
                            configs=[BUILTIN["naive-rag"]]), s, tools=[])
    entry = run.results["configs"]["naive-rag"]
    m = entry["metrics"]
    assert m["items"] == 3 and m["errors"] == 0, entry["items"]
    for key in ("accuracy", "macro_f1", "citation_validity", "groundedness", "insufficient_evidence_rate",
                "language_match", "cites_gold_doc", "retrieved_gold_doc"):
        assert _in_unit(m[key]), key
    assert sum(m["label_sources"].values()) == 3
    for row in entry["items"]:
        assert row["answer"] and row["label_pred"] in ("yes", "no", "maybe")
        if not row["timed_out"]:  # (a run past the time limit answers before routing is recorded)
            assert row["route"] == "retrieve"  # the PubMedQA template asks for the literature
        assert row["perf"]["latency_ms"] > 0 and row["perf"]["total_tokens"] > 0
    assert m["perf"]["latency_ms"]["p95"] >= m["perf"]["latency_ms"]["p50"] > 0
    assert m["timeouts"] == sum(r["timed_out"] for r in entry["items"])
    assert entry["models"]["endpoint"] == llm_server and entry["models"]["chat"]
    assert entry["settings"]["llm"]["base_url"] == llm_server and entry["settings"]["llm"]["api_key"] == "**********"
    assert (run.run_dir / "latency.png").is_file()


@pytest.mark.slow
def test_tools_suite_with_real_mcp_server(llm_server, settings, tmp_path):
    """A sequence task through the graph with the real sequence MCP server (stdio) and llama.cpp."""
    s = apply_settings(settings, {"llm": {"base_url": llm_server, "max_tokens": 64},
                                  "agent": {"max_run_tokens": 6000, "time_limit_s": 180},
                                  "mcp": {"literature": {"enabled": False}}})
    only_annotate = EvalConfig("annotate-only", overrides=BUILTIN["agentic"].overrides.model_copy(
        update={"tools_enabled": ["annotate_rep"], "retrieval_enabled": False}))
    run = run_eval(EvalSpec(suite="tools", dataset=DATA / "sequence_tasks.jsonl", limit=1, seed=0, out_dir=None,
                            progress=False, configs=[only_annotate]), s)
    entry = run.results["configs"]["annotate-only"]
    assert entry["metrics"]["tool_items"] == 1 and entry["metrics"]["errors"] == 0, entry["items"]
    for row in entry["items"]:
        t = row["tools"]
        assert t["gold_tool"] == "annotate_rep"
        # the protein in the message makes the guards call annotate_rep; the real server must accept it
        assert t["called"] and t["valid_args"], row
        assert all(c["name"] == "annotate_rep" for c in t["calls"] if not c["rejected"])
    assert entry["metrics"]["expected_tool_called"] == 1.0 and entry["metrics"]["valid_args"] == 1.0
