"""ChatOpenAI over HTTP against the real llama.cpp server (bundled SmolLM2-135M, served by xllamacpp).

The 135M model is weak: these tests check the wiring (requests accepted, responses well-formed, tool round
trips accepted), not the quality of what it says. llama.cpp does not enforce `tool_choice` for every template
(ggml-org/llama.cpp#27217), and the 135M model rarely calls a tool by itself: that is why `auto` mode puts it
in evidence mode, where the agent calls tools itself.
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


def test_named_tool_choice_is_sent_as_the_one_tool_required():
    from agent.llm.chat import CompatChatOpenAI

    bound = CompatChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key="x").bind_tools(
        [get_weather, translate], tool_choice="get_weather")
    payload = bound.bound._get_request_payload([HumanMessage("weather?")], **bound.kwargs)
    assert payload["tool_choice"] == "required"
    assert [t["function"]["name"] for t in payload["tools"]] == ["get_weather"]
    auto = CompatChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key="x").bind_tools([get_weather, translate])
    payload = auto.bound._get_request_payload([HumanMessage("weather?")], **auto.kwargs)
    assert "tool_choice" not in payload and len(payload["tools"]) == 2


def test_named_tool_choice_is_accepted_by_the_server(model):
    reply = model.bind_tools([get_weather, translate], tool_choice="get_weather").invoke("Weather in Paris?")
    assert isinstance(reply, AIMessage) and not reply.invalid_tool_calls
    assert all(call["name"] == "get_weather" for call in reply.tool_calls)


def test_tool_round_trip_is_accepted_and_answered(model):
    """An assistant tool-call message (content "" not null) and the tool result go back; the model answers."""
    question = HumanMessage("What is the weather in Paris?")
    call_msg = AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}])
    result = get_weather.invoke(call_msg.tool_calls[0])
    assert isinstance(result, ToolMessage) and result.tool_call_id == "call_1"
    final = model.bind_tools([get_weather, translate]).invoke([question, call_msg, result])
    assert isinstance(final, AIMessage) and (final.content or final.tool_calls)
    assert final.usage_metadata["input_tokens"] > 20  # the tool call and its result reached the prompt
