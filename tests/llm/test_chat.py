"""ChatOpenAI over HTTP against the real llama.cpp server (bundled SmolLM2-135M, chatml-function-calling).

The 135M model is weak: these tests check the wiring (requests accepted, responses well-formed, forced tool
calls parsed), not the quality of what it says.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from agent.events import RunOverrides
from agent.llm import chat_model


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"sunny in {city}"


@tool
def translate(text: str, target_language: str) -> str:
    """Translate text into another language."""
    return text


@pytest.fixture
def model(llm_env, settings):
    return chat_model(settings, RunOverrides(max_tokens=24, temperature=0.0))


def test_chat_completion(model):
    reply = model.invoke([HumanMessage("Say hello in one short sentence.")])
    assert isinstance(reply, AIMessage)
    assert isinstance(reply.content, str) and reply.content.strip()
    usage = reply.usage_metadata
    assert usage["input_tokens"] > 0 and 0 < usage["output_tokens"] <= 24  # max_tokens is honoured


def test_streaming(model):
    chunks = list(model.stream("Count from one to five."))
    assert len(chunks) > 1
    assert "".join(c.content for c in chunks).strip()


async def _ainvoke(model):
    return await model.ainvoke("Name one planet.")


def test_async_invoke(model):
    import asyncio

    reply = asyncio.run(_ainvoke(model))
    assert isinstance(reply, AIMessage) and reply.content


def test_request_with_tools_gets_a_well_formed_reply(model):
    reply = model.bind_tools([get_weather, translate]).invoke("What is the weather in Paris?")
    assert isinstance(reply, AIMessage)
    assert reply.content or reply.tool_calls
    for call in reply.tool_calls:
        assert call["name"] in {"get_weather", "translate"}
        assert isinstance(call["args"], dict) and call["id"]
    assert not reply.invalid_tool_calls


def test_forced_tool_call_round_trip(model):
    forced = model.bind_tools([get_weather, translate], tool_choice="get_weather")
    question = HumanMessage("What is the weather in Paris?")
    call_msg = forced.invoke([question])
    assert len(call_msg.tool_calls) == 1
    call = call_msg.tool_calls[0]
    assert call["name"] == "get_weather"
    assert isinstance(call["args"].get("city"), str)  # arguments follow the tool's JSON schema
    result = get_weather.invoke(call)
    assert isinstance(result, ToolMessage) and result.tool_call_id == call["id"]
    # The tool result goes back to the model (assistant tool-call message + tool message) and it answers.
    final = model.bind_tools([get_weather, translate]).invoke([question, call_msg, result])
    assert isinstance(final, AIMessage) and (final.content or final.tool_calls)
