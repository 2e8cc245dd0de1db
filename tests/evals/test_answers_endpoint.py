"""`bioagent eval answers --endpoint URL`: PubMedQA accuracy and macro-F1 printed beside BioBERT and a single
human. A scripted model checks the scoring and the printed comparison; the real llama.cpp server (SmolLM2-135M,
its accuracy meaningless) checks the command end to end on 3 items."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.cli import PUBLISHED, print_published
from evals.configs import BUILTIN
from evals.harness import EvalSpec, run_eval

PUBMEDQA = Path(__file__).resolve().parents[1] / "data" / "evals" / "pubmedqa_dev30.jsonl"


def test_scripted_model_accuracy_is_printed_beside_the_published_numbers(agent_settings, tmp_path, capsys):
    import json

    from tests.fixtures.agent import ScriptedChatModel

    gold = {json.loads(ln)["question"]: json.loads(ln)["final_decision"] for ln in PUBMEDQA.read_text().splitlines()}

    def answer(messages, kw):  # right on every item: the gold label first, then a citation
        text = str(messages[-1].content)
        label = next(v for q, v in gold.items() if q in text)
        return f"{label.capitalize()}. The study reports it [P1]."

    s = agent_settings.model_copy(update={"agent": agent_settings.agent.model_copy(update={"mode": "guarded"})})
    run = run_eval(EvalSpec(suite="answers", dataset=PUBMEDQA, limit=4, seed=0, out_dir=None, progress=False,
                            configs=[BUILTIN["naive-rag"]]), s, chat_model=ScriptedChatModel(script={"answer": [answer]}),
                   tools=[])
    m = run.results["configs"]["naive-rag"]["metrics"]
    assert m["items"] == 4 and m["accuracy"] == 1.0
    print_published(run.results)
    out = capsys.readouterr().out
    assert "naive-rag: accuracy 100.0%" in out
    assert "BioBERT (PubMedQA paper, reasoning-required): accuracy 68.1%" in out
    assert "single human (PubMedQA paper): accuracy 78.0%" in out
    assert [a for _, a in PUBLISHED] == [0.681, 0.780]


def test_cli_rejects_an_unknown_mode(tmp_path):
    from agent.cli import app

    res = CliRunner().invoke(app, ["eval", "answers", "--data", str(PUBMEDQA), "--mode", "fast", "--no-write"])
    assert res.exit_code == 2 and "--mode must be auto, evidence, guarded or agentic" in res.output


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_cli_json_metrics_are_computed_over_the_questions_it_ran(llm_server, tmp_path, monkeypatch):
    """`bioagent eval answers --endpoint URL --limit 3 --json` against the real llama.cpp server: the printed
    accuracy and macro-F1 are those of the 3 questions run (recomputed with scikit-learn from the per-item gold and
    predicted labels in the run's results.json, the gold labels those of the dataset)."""
    import json

    import mcp.client.stdio  # noqa: F401 - bound to the real stderr before CliRunner swaps it (MCP servers' errlog)
    from sklearn.metrics import accuracy_score, f1_score

    from agent.cli import app
    from agent.settings import get_settings

    monkeypatch.setenv("BIOAGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BIOAGENT_LLM__MAX_TOKENS", "64")
    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(app, ["eval", "answers", "--endpoint", llm_server, "--data", str(PUBMEDQA),
                                       "--limit", "3", "--mode", "guarded", "--json", "--no-progress",
                                       "--out", str(tmp_path / "runs")])
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    assert printed["run"]["dataset"]["items"] == 3
    (name, m), = printed["metrics"].items()
    assert m["items"] == 3 and m["errors"] == 0, m
    assert sum(m["label_sources"].values()) == 3
    assert sum(n for row in m["confusion"].values() for n in row.values()) == 3

    rows = json.loads((Path(printed["run_dir"]) / "results.json").read_text())["configs"][name]["items"]
    decisions = {(d := json.loads(ln))["pubid"]: d["final_decision"] for ln in PUBMEDQA.read_text().splitlines()}
    assert len(rows) == 3 and all(not r.get("error") for r in rows)
    gold = [r["label_gold"] for r in rows]
    pred = [r["label_pred"] for r in rows]
    assert gold == [decisions[r["id"]] for r in rows]  # the dataset's own labels
    assert [m["confusion"][g][p] > 0 for g, p in zip(gold, pred)] == [True] * 3
    assert m["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=["yes", "no", "maybe"], average="macro",
                                                   zero_division=0))
    assert all(r["answer"].strip() for r in rows), "the real model answered every question"
