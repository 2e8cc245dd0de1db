"""The OpenAI-compatible API's system prompt over a real socket and the real app and AgentService (only the chat
model is a scripted fake that records what it is sent): it reaches the answer model as additional instructions,
with or without a thread id; evidence mode says in the trace that it was not used; one that is too long is a 422
naming the message."""

from __future__ import annotations

import httpx
import openai

from agent import prompts
from agent.events import INSTRUCTIONS_MAX_CHARS
from tests.api.helpers import API_KEY, AUTH
from tests.fixtures.agent import ScriptedChatModel

FIRST = "You write for veterinarians; keep it to two sentences."
SECOND = "Now answer as a bulleted list."


def _answer_system(model: ScriptedChatModel) -> str:
    calls = model.calls_for("answer")
    assert calls, [c["stage"] for c in model.calls]
    return str(calls[-1]["messages"][0].content)


def _answer_step(reply) -> dict:
    trace = reply.model_extra["bioagent"]["trace"]
    return [e["data"] for e in trace if e["type"] == "step" and e["node"] == "answer"][0]


def test_the_system_prompt_reaches_the_answer_model(make_server):
    model = ScriptedChatModel()
    server = make_server(model=model)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, timeout=60)
    reply = client.chat.completions.create(model="bioagent", messages=[
        {"role": "system", "content": FIRST}, {"role": "user", "content": "What does the Rep protein do?"}])
    system = _answer_system(model)
    assert system.startswith(prompts.ANSWER_SYSTEM.split("{")[0]) and f"<instructions>\n{FIRST}\n" in system
    assert _answer_step(reply)["instructions"].startswith("used")
    assert reply.model_extra["bioagent"]["mode"] == "guarded"

    # continuing a stored thread: the request's system message applies to this turn (earlier ones do not)
    thread_id = reply.model_extra["bioagent"]["thread_id"]
    client.chat.completions.create(model="bioagent", extra_body={"thread_id": thread_id}, messages=[
        {"role": "developer", "content": SECOND}, {"role": "user", "content": "And which motifs does it carry?"}])
    system = _answer_system(model)
    assert SECOND in system and FIRST not in system

    # evidence mode makes no model call: the trace says the instructions were not used
    calls = len(model.calls)
    reply = client.chat.completions.create(model="bioagent", extra_body={"overrides": {"mode": "evidence"}},
                                           messages=[{"role": "system", "content": FIRST},
                                                     {"role": "user", "content": "What does the Rep protein do?"}])
    assert len(model.calls) == calls
    assert _answer_step(reply)["instructions"] == "not used: evidence mode composes the answer without a model"


def test_a_system_prompt_over_the_limit_is_refused(make_server):
    server = make_server(model=ScriptedChatModel())
    body = {"model": "bioagent", "messages": [{"role": "system", "content": "x" * (INSTRUCTIONS_MAX_CHARS + 1)},
                                              {"role": "user", "content": "What does Rep do?"}]}
    r = httpx.post(f"{server.url}/v1/chat/completions", headers=AUTH, json=body, timeout=30)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert "messages" in err["message"] and str(INSTRUCTIONS_MAX_CHARS) in err["message"], err
