"""`bioagent eval support --judge-endpoint`: the verify step's LLM judge scored on labelled pairs.

Logic with a scripted model (the verdicts are fixed, so every number can be worked out by hand); the wiring with the
real llama.cpp server and the bundled SmolLM2 over HTTP (a tiny model: its verdicts are not judged, only that each
pair reaches the endpoint and the report is complete); and the one-line error when the endpoint is down.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from typer.testing import CliRunner

from evals.support import Pair, evaluate_pairs, judged, load_pairs, sample_pairs
from tests.fixtures.agent import ScriptedChatModel, tool_call

PAIRS = Path(__file__).resolve().parents[1] / "data" / "claims" / "pubmedqa_dev_pairs.jsonl"


class FixedScorer:
    """The offline scorer's role with fixed scores (the judge's effect is what is under test)."""

    threshold = 0.5

    def __init__(self, scores):
        self.scores = scores

    def score_many(self, pairs):
        from agent.claims.scorer import SupportScore

        return [SupportScore(score=s, supported=s >= 0.5, reasons=[]) for s in self.scores[:len(pairs)]]


def _pairs():
    return [Pair("Screening rose to 71%.", "Screening was 71% vs 61%.", 1, 1, {"kind": "perturbed"}),
            Pair("Screening rose to 81%.", "Screening was 71% vs 61%.", 0, 2, {"kind": "perturbed"}),
            Pair("Mortality fell.", "Mortality was lower with the drug.", 1, 3, {"kind": "other"}),
            Pair("Mortality rose.", "Mortality was lower with the drug.", 0, 4, {"kind": "other"})]


def test_the_judge_vetoes_as_verify_does_and_is_scored_alone():
    # the scorer ranks both negatives above a positive (AUROC 0.5); the judge rejects them, and gives no verdict
    # on pair 3
    model = ScriptedChatModel(script={"judge": [
        tool_call("ClaimJudgement", {"supported": True, "reason": "71% stated"}),
        tool_call("ClaimJudgement", {"supported": False, "reason": "81% is not 71%"}),
        AIMessage(content="hmm"),
        AIMessage(content='{"supported": false, "reason": "lower, not higher"}')]}, use_defaults=False)
    out = evaluate_pairs(_pairs(), FixedScorer([0.9, 0.8, 0.6, 0.7]), judge_model=model)
    assert out["auroc"] == 0.5  # the scorer alone: 0.9 > 0.8, 0.7; 0.6 < 0.8, 0.7
    assert out["with_judge"]["auroc"] == 1.0  # both negatives vetoed below every positive
    assert out["judge"]["no_verdict"] == 1 and out["judge"]["accuracy"] == 1.0
    # alone: verdicts 1, 0, none (0.5), 0 -> positives 1 and 0.5 against negatives 0 and 0
    assert out["judge"]["auroc"] == 1.0 and out["judge"]["by_kind"]["other"]["auroc"] == 1.0
    assert [s["judge"] for s in out["scores"]] == [True, False, None, False]
    prompt = str(model.calls_for("judge")[1]["messages"][-1].content)
    assert "Claim: Screening rose to 81%." in prompt and "Screening was 71% vs 61%." in prompt


def test_no_judge_means_no_judge_fields_and_veto_only_on_false():
    out = evaluate_pairs(_pairs(), FixedScorer([0.9, 0.8, 0.6, 0.7]))
    assert "judge" not in out and "with_judge" not in out and "judge" not in out["scores"][0]
    assert judged([0.9, 0.4, 0.7], [None, True, False]) == [0.9, 0.4, pytest.approx(-0.3)]


def test_a_sample_keeps_file_order_and_both_labels():
    pairs = load_pairs(PAIRS)
    a, b = sample_pairs(pairs, 10, seed=1), sample_pairs(pairs, 10, seed=1)
    assert [p.line for p in a] == [p.line for p in b] == sorted(p.line for p in a) and len(a) == 10
    assert {p.label for p in a} == {0, 1}
    assert sample_pairs(pairs, len(pairs) + 5) is pairs
    with pytest.raises(ValueError, match="one label only"):
        sample_pairs([p for p in pairs if p.label == 1] + [p for p in pairs if p.label == 0][:1], 1)


def test_cli_judges_pairs_on_the_real_llama_cpp_server(llm_server):
    from agent.cli import app

    res = CliRunner().invoke(app, ["eval", "support", "--pairs", str(PAIRS), "--limit", "4", "--seed", "3",
                                   "--judge-endpoint", llm_server, "--json", "--scores"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["n"] == 4 and 0.0 <= out["judge"]["auroc"] <= 1.0 and 0.0 <= out["with_judge"]["auroc"] <= 1.0
    assert out["judge"]["pairs_per_s"] > 0 and 0 <= out["judge"]["no_verdict"] <= 4
    verdicts = [s["judge"] for s in out["scores"]]
    assert len(verdicts) == 4 and all(v in (True, False, None) for v in verdicts)
    assert out["judge"]["no_verdict"] == verdicts.count(None)


def test_cli_says_in_one_line_when_the_judge_endpoint_is_down():
    from agent.cli import app

    res = CliRunner().invoke(app, ["eval", "support", "--pairs", str(PAIRS), "--limit", "4",
                                   "--judge-endpoint", "http://127.0.0.1:9/v1"])
    assert res.exit_code == 2
    assert "error:" in res.output and "Traceback" not in res.output and "127.0.0.1:9" in res.output
