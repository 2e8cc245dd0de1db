"""A caller's additional instructions (``RunOverrides.instructions``: the OpenAI API's system prompt) reach the
answer model's system prompt, after bioagent's own rules, in guarded and agentic modes, and no other stage's
prompt; evidence mode calls no model and its trace says they were not used. Scripted models: graph logic only
(tests/api/test_system_prompt.py sends them through the real app)."""

from __future__ import annotations

import pytest
from langchain_core.messages import SystemMessage

from agent import prompts
from agent.events import RunOverrides
from agent.runner import AgentService
from tests.fixtures.agent import FakeKnowledgeBase, ScriptedChatModel, ToolRecorder, fake_tools

pytestmark = pytest.mark.anyio

INSTRUCTIONS = "Answer for a veterinary audience and end with the word PINEAPPLE."
LIT_Q = "What does the Rep protein do in rolling-circle replication?"


def _steps(result, node):
    return [e.data for e in result.trace if e.type == "step" and e.node == node]


async def _run(settings, mode: str, instructions: str | None):
    model = ScriptedChatModel()
    settings = settings.model_copy(update={"agent": settings.agent.model_copy(update={"mode": mode})})
    svc = AgentService(settings, chat_model=model, knowledge_base=FakeKnowledgeBase(),
                       tools=fake_tools(ToolRecorder()))
    try:
        result = await svc.run(LIT_Q, overrides=RunOverrides(instructions=instructions))
    finally:
        await svc.aclose()
    return model, result


@pytest.mark.parametrize("mode", ["guarded", "agentic"])
async def test_the_answer_model_sees_the_instructions_after_the_rules(agent_settings, mode):
    model, r = await _run(agent_settings, mode, INSTRUCTIONS)
    answer_calls = model.calls_for("answer")
    assert answer_calls and r.answer_mode in ("model", "fallback")
    system = answer_calls[0]["messages"][0]
    assert isinstance(system, SystemMessage)
    text = str(system.content)
    assert text.startswith(prompts.ANSWER_SYSTEM.split("{")[0])  # bioagent's rules first ...
    assert text.index("Cite every factual claim") < text.index(INSTRUCTIONS)  # ... then the caller's
    assert f"<instructions>\n{INSTRUCTIONS}\n</instructions>" in text
    others = [c for c in model.calls if c["stage"] != "answer"]
    assert others and not any(INSTRUCTIONS in str(m.content) for c in others for m in c["messages"])
    assert _steps(r, "answer")[0]["instructions"].startswith("used: added to the answer's system prompt")


async def test_without_instructions_the_system_prompt_is_unchanged(agent_settings):
    model, r = await _run(agent_settings, "guarded", None)
    system = str(model.calls_for("answer")[0]["messages"][0].content)
    assert "<instructions>" not in system and "instructions" not in _steps(r, "answer")[0]


async def test_evidence_mode_says_the_instructions_were_not_used(agent_settings):
    model, r = await _run(agent_settings, "evidence", INSTRUCTIONS)
    assert model.calls == [] and r.answer_mode == "evidence"
    assert _steps(r, "answer")[0]["instructions"] == "not used: evidence mode composes the answer without a model"
    assert "PINEAPPLE" not in r.answer
