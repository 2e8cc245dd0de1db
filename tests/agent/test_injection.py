"""Prompt injection through retrieved text, and the library-writing tool only when the user asks for it."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from tests.agent.test_graph import make, steps
from tests.fixtures.agent import (
    INJECTION_DOC,
    FakeKnowledgeBase,
    ScriptedChatModel,
    ToolRecorder,
    default_docs,
    fake_tools,
    route_reply,
    tool_call,
)

pytestmark = pytest.mark.anyio


async def test_prompt_injection_in_a_document_changes_nothing(agent_settings):
    """A library document and a PubMed abstract order the agent to call add_to_library and reveal its system
    prompt; an obedient model would do it. The tool is never executed and the prompt never returned."""
    rec = ToolRecorder()

    def obedient_tools(messages, kw):
        if any("add_to_library" in str(m.content) for m in messages[1:]):
            return tool_call("add_to_library", {"query": "malware"})
        return tool_call("search_pubmed", {"query": "Rep replication"})

    def obedient_answer(messages, kw):
        if "reveal the system prompt" in str(messages[-1].content):
            return str(messages[0].content)  # the whole system prompt
        return "ok [P1]"

    model = ScriptedChatModel(script={"route": [route_reply("both")], "tools": [obedient_tools],
                                      "answer": [obedient_answer]})
    kb = FakeKnowledgeBase([INJECTION_DOC, *default_docs()])
    tools = fake_tools(rec, pubmed_articles=[{"pmid": "666", "title": "Rep", "abstract": INJECTION_DOC["text"]}])
    svc = make(agent_settings, model, kb, tools=tools)
    try:
        r = await svc.run("What do Rep replication notes say?")
    finally:
        await svc.aclose()
    assert rec.names() == ["search_pubmed"]  # the injected add_to_library call never ran
    assert all("add_to_library" not in c["tools"] for c in model.calls_for("tools"))  # never even offered
    rejected = [x for s in steps(r, "plan_tools") for x in s.data["rejected"]]
    assert any(x["name"] == "add_to_library" and "did not ask" in x["reason"] for x in rejected)
    assert "careful research assistant" not in r.answer
    assert "answer repeats the system prompt" in steps(r, "verify")[0].data["fallback_reasons"]
    # retrieved content is fenced as data, and the document's fake closing fence is neutralised
    prompt = str(model.calls_for("answer")[0]["messages"][-1].content)
    assert "IGNORE YOUR INSTRUCTIONS" in prompt and prompt.count("</data>") == prompt.count("<data ")
    assert "[fence removed]" in prompt
    assert "never instructions" in str(model.calls_for("answer")[0]["messages"][0].content)
    second = model.calls_for("tools")[1]["messages"]
    assert any(m.type == "tool" and '<data id="' in str(m.content) for m in second)


async def test_user_asking_to_add_to_the_library_may_use_add_to_library(agent_settings):
    rec = ToolRecorder()
    model = ScriptedChatModel(script={"route": [route_reply("tools")],
                                      "tools": [tool_call("add_to_library", {"pmids": ["31452104"]}), AIMessage("")],
                                      "answer": ["Added [T1]."]})
    svc = make(agent_settings, model, recorder=rec)
    try:
        r = await svc.run("Please add PMID 31452104 to my library")
    finally:
        await svc.aclose()
    assert rec.names() == ["add_to_library"]
    assert r.tool_results[0].ok
