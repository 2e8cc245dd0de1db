"""One short run of each new path against the real llama.cpp server (the bundled SmolLM2 GGUF over HTTP), the real
AgentService and a real uvicorn: a user's background run followed over SSE, and the OpenAI messages list as the
conversation with streamed content equal to the non-streamed content. Retrieval and tools are off to keep the
CPU model's calls few (route and answer); the graph, checks and HTTP stack are the real ones."""

from __future__ import annotations

import httpx
import openai
import pytest

from agent.api.accounts import AccountStore
from agent.settings import AgentSettings, LLMSettings
from tests.api.conftest import api_settings
from tests.api.helpers import LiveServer, MemoryKB, sse_events

OVERRIDES = {"retrieval_enabled": False, "tools_enabled": [], "max_tokens": 24, "temperature": 0.0,
             "mode": "guarded"}  # the model answers (auto would put the bundled SmolLM2 in evidence mode)


@pytest.mark.slow
def test_user_runs_against_the_real_llm(llm_server, data_dir):
    from agent.api import create_app
    from agent.runner import AgentService

    settings = api_settings(data_dir)
    settings.llm = LLMSettings(base_url=llm_server, max_tokens=24, timeout_s=600)
    settings.agent = AgentSettings(max_rounds=0, time_limit_s=900)
    accounts = AccountStore(data_dir / "users.sqlite")
    key = accounts.add_user("alice")
    accounts.close()
    alice = {"Authorization": f"Bearer {key}"}
    service = AgentService(settings, knowledge_base=MemoryKB(), tools=[])
    with LiveServer(create_app(settings, service=service, close_service=True)) as server:
        r = httpx.post(f"{server.url}/v1/runs", headers=alice, timeout=60,
                       json={"message": "Hello, who are you?", "background": True, "overrides": OVERRIDES})
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        with httpx.stream("GET", f"{server.url}/v1/runs/{run_id}/stream", headers=alice, timeout=900) as s:
            events = list(sse_events(s))
        assert events[-1][0] == "done", events[-3:]
        result = events[-1][1]["data"]
        assert result["answer"].strip() and result["usage"]["completion_tokens"] > 0, "the real model answered"

        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=900)
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"},
                    {"role": "assistant", "content": result["answer"]}, {"role": "user", "content": "Thanks, bye."}]
        pieces, final = [], None
        for chunk in client.chat.completions.create(model="bioagent", messages=messages, stream=True,
                                                    extra_body={"overrides": OVERRIDES}):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            if chunk.choices and chunk.choices[0].finish_reason:
                final = chunk.model_extra["bioagent"]
        assert final is not None and "".join(pieces) == final["answer"], "streamed content = the checked answer"
        history = httpx.get(f"{server.url}/v1/threads/{final['thread_id']}", headers=alice).json()["messages"]
        assert [m["content"] for m in history if m["role"] == "user"] == ["Hello!", "Thanks, bye."]
        listed = {t["thread_id"] for t in httpx.get(f"{server.url}/v1/threads", headers=alice).json()["threads"]}
        assert listed == {result["thread_id"], final["thread_id"]}
