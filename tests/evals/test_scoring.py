"""Scoring of runs (labels, citations, groundedness, language, tools, perf), configurations and the report."""

from __future__ import annotations

import json

import pytest

from agent.events import Citation, RunOverrides, RunResult, ToolResult, TraceEvent
from agent.kb.models import Hit
from agent.settings import Settings
from evals.answers import aggregate_answers, answer_label, score_answer, text_language
from evals.configs import BUILTIN, ConfigError, apply_settings, load_config_file, resolve_configs
from evals.datasets import QAItem
from evals.grounding import cited_refs, groundedness, lexical_support, split_sentences
from evals.perf import aggregate_perf, run_perf
from evals.tools import aggregate_tools, args_match, score_tools

P1 = Hit(chunk_id="c1", doc_id="pubmed:1", title="", text="Telephone counseling increased mammography use among "
         "women in the trial compared with usual care.", score=1.0)
P2 = Hit(chunk_id="c2", doc_id="pubmed:2", title="", text="Capsid proteins form icosahedral particles.", score=0.5)


@pytest.mark.parametrize("answer, insufficient, expected", [
    ("Yes. Telephone counseling helped [P1].", False, ("yes", "leading")),
    ("**No**, it did not [P1].", False, ("no", "leading")),
    ("Answer: maybe — the data are mixed.", False, ("maybe", "leading")),
    ("[P1] Yes, it did.", False, ("yes", "leading")),
    ("Based on the trial, the answer is no.", False, ("no", "stated")),
    ("是的，电话咨询有效 [P1]。", False, ("yes", "leading")),
    ("不是，没有证据。", False, ("no", "leading")),
    ("The trial shows an effect.", True, ("maybe", "insufficient")),
    ("The trial shows an effect.", False, ("maybe", "default")),
    ("Nobody knows.", False, ("maybe", "default")),  # "No" must be a whole word
])
def test_answer_label(answer, insufficient, expected):
    assert answer_label(answer, insufficient) == expected


def test_text_language():
    assert text_language("Rep nicks the origin.") == "en"
    assert text_language("Rep 蛋白在复制起点切割 DNA。") == "zh"
    assert text_language("") == "en"


def test_sentences_and_citations():
    s = split_sentences("Yes. Counseling helped [P1]. It also [P1, T2] worked!\n[P2]\n第二句。第三句。")
    assert s == ["Yes.", "Counseling helped [P1].", "It also [P1, T2] worked!\n[P2]".replace("\n", " "),
                 "第二句。", "第三句。"]
    assert cited_refs("a [P1; P3] b [T2] [P1]") == ["P1", "P3", "T2"]


def test_groundedness_lexical_by_hand():
    answer = ("Yes. Telephone counseling increased mammography use [P1]. "
              "Capsids form icosahedral particles [P1]. Women preferred print materials.")
    g = groundedness(answer, [P1, P2])
    # "Yes." has no content tokens -> not scored; sentence 2 supported by P1; sentence 3 cites P1 which does not
    # support it; sentence 4 cites nothing.
    assert (g.sentences, g.supported, g.uncited) == (3, 1, 1)
    assert g.score == pytest.approx(1 / 3)
    assert g.details[0]["supported_by"] == "P1" and g.details[1]["supported_by"] is None
    assert lexical_support("Capsids form icosahedral particles", P2.text)
    # a judge replaces the lexical check
    g2 = groundedness(answer, [P1, P2], judge=lambda sentence, source: True)
    assert g2.supported == 2


def test_groundedness_tool_citation():
    tr = ToolResult(id="T1", name="annotate_rep", content={"call": "yes", "motifs": [{"name": "Walker A"}]})
    g = groundedness("The protein carries a Walker A motif [T1].", [], [tr])
    assert g.supported == 1 and g.score == 1.0


def _result(answer: str, citations, passages=(P1, P2), insufficient=False, language="en", **kw) -> RunResult:
    return RunResult(thread_id="t", question="q", answer=answer, citations=citations, passages=list(passages),
                     insufficient_evidence=insufficient, language=language, **kw)


def test_score_answer_and_aggregate():
    item = QAItem(id="1", question="Can counseling increase mammography use?", label="yes",
                  gold_doc_ids=["pubmed:1"])
    good = _result("Yes. Telephone counseling increased mammography use [P1].",
                   [Citation(ref="P1", kind="passage", chunk_id="c1", doc_id="pubmed:1")])
    row = score_answer(item, good)
    assert row["label_pred"] == "yes" and row["correct"] and row["citation_validity"] == 1.0
    assert row["cites_gold_doc"] and row["retrieved_gold_doc"] and row["groundedness"] == 1.0
    assert row["language_match"]
    bad = _result("Capsids form particles [P2] [P9].", [
        Citation(ref="P2", kind="passage", chunk_id="c2", doc_id="pubmed:2"),
        Citation(ref="P9", kind="passage", valid=False)], insufficient=True, invalid_citations=["P9"])
    row2 = score_answer(QAItem(id="2", question="q", label="no", gold_doc_ids=["pubmed:1"]), bad)
    assert row2["label_pred"] == "maybe" and row2["label_from"] == "insufficient" and not row2["correct"]
    assert (row2["citations"], row2["valid_citations"], row2["invalid_citations"]) == (2, 1, 1)
    assert row2["cites_gold_doc"] is False
    zh = score_answer(QAItem(id="3", question="q", language="zh"), _result("Rep is a protein.", []))
    assert zh["language_match"] is False and "label_pred" not in zh and zh["citation_validity"] is None
    agg = aggregate_answers([row, row2, zh, {"id": "4", "error": "boom"}])
    assert agg["items"] == 4 and agg["errors"] == 1
    assert agg["accuracy"] == 0.5
    # yes: tp 1 -> F1 1; no: fn 1 -> 0; maybe: fp 1 -> 0
    assert agg["macro_f1"] == pytest.approx(1 / 3)
    assert agg["citation_validity"] == pytest.approx(2 / 3)  # micro: 2 valid of 3 citations
    assert agg["cites_gold_doc"] == 0.5 and agg["insufficient_evidence_rate"] == pytest.approx(1 / 3)
    assert agg["language_match"] == pytest.approx(2 / 3)
    assert agg["label_sources"] == {"leading": 1, "insufficient": 1}


def test_tools_scoring():
    seq = "MPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQG"
    item = QAItem(id="t", question="q", gold_tool="score_mutations", gold_tool_args={"mutations": ["y96f"]})
    ok = RunResult(thread_id="t", question="q", answer="a", tool_results=[
        ToolResult(id="T1", name="annotate_rep", args={"sequence": seq}),
        ToolResult(id="T2", name="score_mutations", args={"sequence": seq, "mutations": ["Y96F", "K25A"]})])
    row = score_tools(item, ok)
    assert row["called"] and row["valid_args"] and row["unexpected_calls"] == 1
    failed = RunResult(thread_id="t", question="q", answer="a", tool_results=[
        ToolResult(id="T1", name="score_mutations", args={"mutations": ["Y96F"]}, ok=False, error="bad sequence")])
    assert score_tools(item, failed)["called"] and not score_tools(item, failed)["valid_args"]
    rejected = RunResult(thread_id="t", question="q", answer="a", tool_results=[
        ToolResult(id="T1", name="score_mutations", args={}, ok=False, error="call rejected: limit")])
    assert not score_tools(item, rejected)["called"]
    # a call seen only in the trace (no result) counts as called, not valid
    traced = RunResult(thread_id="t", question="q", answer="a", trace=[
        TraceEvent(type="tool_call", data={"id": "T1", "name": "score_mutations", "args": {"mutations": ["Y96F"]}})])
    r = score_tools(item, traced)
    assert r["called"] and not r["valid_args"]
    none_item = QAItem(id="n", question="hi", gold_tool="none")
    assert score_tools(none_item, RunResult(thread_id="t", question="q", answer="a"))["called"] is True
    assert score_tools(none_item, ok)["called"] is False
    assert score_tools(QAItem(id="x", question="q"), ok) is None
    agg = aggregate_tools([row, score_tools(item, failed), score_tools(none_item, ok)])
    assert agg["expected_tool_called"] == 1.0 and agg["valid_args"] == 0.5
    assert agg["no_tool_when_none_expected"] == 0.0 and agg["tool_items"] == 3
    assert args_match({"sequence": ">x\n" + seq[:30] + "\n" + seq[30:]}, {"sequence": seq})
    assert not args_match({"query": "rep"}, {})


def test_perf_from_trace():
    res = RunResult(thread_id="t", question="q", answer="a", duration_ms=1500.0,
                    usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}, trace=[
                        TraceEvent(type="step", node="route", data={"duration_ms": 10, "llm_ms": 8, "llm_calls": 1}),
                        TraceEvent(type="step", node="answer", data={"duration_ms": 900, "llm_ms": 850,
                                                                     "llm_calls": 1, "tokens": {"estimated": True}}),
                        TraceEvent(type="token", node="answer", data={"text": "a"})])
    p = run_perf(res)
    assert p["latency_ms"] == 1500.0 and p["total_tokens"] == 120 and p["llm_calls"] == 2
    assert p["node_ms"] == {"route": 10.0, "answer": 900.0} and p["tokens_estimated"]
    from evals.harness import timed_out

    assert not timed_out(res)
    assert timed_out(res.model_copy(update={"trace": [TraceEvent(type="error", data={
        "message": "time limit of 300 s reached; answering with what was found so far"})]}))
    agg = aggregate_perf([p, p | {"latency_ms": 500.0, "node_ms": {"route": 30.0}}])
    assert agg["latency_ms"]["mean"] == 1000.0 and agg["node_ms_mean"] == {"answer": 450.0, "route": 20.0}


def test_configs(tmp_path):
    assert BUILTIN["naive-rag"].overrides == RunOverrides(max_rounds=0, tools_enabled=[])
    assert [c.name for c in resolve_configs(["naive-rag,agentic"])] == ["naive-rag", "agentic"]
    with pytest.raises(ConfigError, match="unknown configuration 'x'"):
        resolve_configs(["x"])
    s = apply_settings(Settings(), {"retrieval": {"mode": "dense", "k": 3}, "llm": {"temperature": 0}})
    assert (s.retrieval.mode, s.retrieval.k, s.llm.temperature) == ("dense", 3, 0.0)
    with pytest.raises(ConfigError, match="unknown setting"):
        apply_settings(Settings(), {"retrieval": {"nope": 1}})
    with pytest.raises(ConfigError, match="retrieval.mode"):
        apply_settings(Settings(), {"retrieval": {"mode": "fuzzy"}})
    f = tmp_path / "c.yaml"
    f.write_text("configs:\n  - name: a\n    overrides: {k: 3}\n  - name: b\n    settings: {retrieval: {mode: sparse}}\n")
    cfgs = load_config_file(f)
    assert [c.name for c in cfgs] == ["a", "b"] and cfgs[0].overrides.k == 3
    assert [c.name for c in resolve_configs(None, f)] == ["a", "b"]
    f.write_text(json.dumps([{"name": "a", "overrides": {"k": 0}}]))
    with pytest.raises(ConfigError, match=r"overrides\.k"):
        load_config_file(f.rename(tmp_path / "c.json"))
    (tmp_path / "d.yaml").write_text("- name: a\n- name: a\n")
    with pytest.raises(ConfigError, match="duplicate"):
        load_config_file(tmp_path / "d.yaml")
    (tmp_path / "e.yaml").write_text("- name: a\n  extra: 1\n")
    with pytest.raises(ConfigError, match="unknown field"):
        load_config_file(tmp_path / "e.yaml")


def test_llm_judge_reads_yes_no():
    from evals.grounding import llm_judge
    from tests.fixtures.agent import ScriptedChatModel

    model = ScriptedChatModel(script={"unknown": ["Yes.", "no", "是的", "I think so"]}, use_defaults=False)
    judge = llm_judge(model)
    assert [judge("s", "src") for _ in range(4)] == [True, False, True, False]
    prompt = str(model.calls[0]["messages"][0].content)
    assert "Sentence: s" in prompt and "src" in prompt
