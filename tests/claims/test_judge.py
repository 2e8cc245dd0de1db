"""The optional LLM judge: logic with a scripted fake model (the offline scorer is tested with real MiniLM)."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from agent.claims import check_answer, judge_claims
from agent.claims.split import split_claims
from tests.fixtures.agent import ScriptedChatModel, tool_call

PASSAGES = {"P1": "Telephone counseling increased mammography screening compared with usual care (71% vs 61%)."}


def test_judge_reads_tool_calls_and_json_and_skips_invalid_or_uncited():
    model = ScriptedChatModel(script={"judge": [
        tool_call("ClaimJudgement", {"supported": True, "reason": "71% vs 61% is stated"}),
        AIMessage(content='Verdict: {"supported": false, "reason": "the text says increased"}'),
        AIMessage(content="I think so"),
    ]}, use_defaults=False)
    claims = split_claims("Counseling raised screening to 71% [P1]. Counseling lowered screening [P1]. "
                          "It helps [P1]. Nothing cited here.")
    out = judge_claims(model, claims, PASSAGES)
    assert out == [{"supported": True, "reason": "71% vs 61% is stated"},
                   {"supported": False, "reason": "the text says increased"}, None, None]
    calls = model.calls_for("judge")
    assert len(calls) == 3 and calls[0]["tools"] == ["ClaimJudgement"]
    prompt = str(calls[0]["messages"][-1].content)
    assert '<data id="P1"' in prompt and "Claim: Counseling raised screening to 71%." in prompt


def test_judge_errors_give_no_verdict_and_never_raise():
    model = ScriptedChatModel(script={"judge": [RuntimeError("endpoint down")]}, use_defaults=False)
    out = judge_claims(model, split_claims("Counseling raised screening [P1]."), PASSAGES)
    assert out == [{"supported": None, "reason": "judge failed: RuntimeError"}]


def test_check_answer_uses_the_judge_only_when_given(embedder):
    answer = "Telephone counseling increased mammography screening (71% vs 61%) [P1]."
    plain = check_answer(answer, PASSAGES, {}, embedder=embedder)
    assert plain[0].supported and plain[0].judge is None
    model = ScriptedChatModel(script={"judge": [tool_call("ClaimJudgement", {"supported": False,
                                                                             "reason": "not in the text"})]},
                              use_defaults=False)
    judged = check_answer(answer, PASSAGES, {}, embedder=embedder, judge_model=model)
    assert judged[0].judge == {"supported": False, "reason": "not in the text"}
    assert not judged[0].supported and judged[0].reasons[-1] == "judge: not in the text"
