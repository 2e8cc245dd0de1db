"""End to end, nothing faked: the app builds its own AgentService (as `bioagent serve` does) against the real
llama.cpp server with the bundled SmolLM2 GGUF over HTTP, the real embedded Qdrant knowledge base and the real
MCP servers over stdio (their tools are listed by /readyz; tool calls through the graph are the agent's e2e
test); the upload and the openai client (streaming) go over a real socket. One run only, with few passages:
every prompt token of the CPU model costs time."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from agent.events import RunResult
from agent.settings import AgentSettings, EmbeddingSettings, LLMSettings
from tests.api.conftest import api_settings
from tests.api.helpers import API_KEY, AUTH, LiveServer, ingest

NOTE = b"""# Rep of porcine circovirus 2

The Rep protein of porcine circovirus 2 (PCV2) initiates rolling-circle replication: its HUH endonuclease nicks
the origin stem-loop and its SF3 helicase domain unwinds the genome.
"""


@pytest.mark.slow
def test_api_end_to_end_with_the_real_llm_kb_and_mcp_servers(llm_server, data_dir):
    from agent.api import create_app

    settings = api_settings(data_dir)
    settings.llm = LLMSettings(base_url=llm_server, max_tokens=64, timeout_s=300)
    settings.embedding = EmbeddingSettings(multilingual=False)
    # guarded: the model writes the answer (auto would probe the endpoint and put SmolLM2 in evidence mode)
    settings.agent = AgentSettings(max_rounds=0, time_limit_s=600, mode="guarded")
    with LiveServer(create_app(settings)) as server:  # the app builds and starts the service itself
        deadline = time.monotonic() + 180
        while (ready := httpx.get(f"{server.url}/readyz", headers=AUTH, timeout=60)).status_code != 200:
            assert time.monotonic() < deadline, ready.text
            time.sleep(1)
        tools = ready.json()["checks"]["mcp_sequence"]
        assert tools["ok"] and "annotate_rep" in tools["detail"], "the sequence MCP server answers over stdio"

        up = ingest(server.url, [("files", ("pcv2-rep.md", NOTE, "text/markdown"))], AUTH, timeout=300,
                    shared="true")
        assert up["state"] == "done" and up["results"][0]["added"] == ["pcv2-rep"], up

        # A literature question over the openai client, streamed (few passages: each prompt token costs CPU time).
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, timeout=600)
        question = "According to the literature, what does the Rep protein of porcine circovirus 2 do?"
        content, final = [], None
        for chunk in client.chat.completions.create(
                model="bioagent", stream=True, messages=[{"role": "user", "content": question}],
                extra_body={"thread_id": "e2e", "overrides": {"k": 2}}):
            if chunk.choices and chunk.choices[0].delta.content:
                content.append(chunk.choices[0].delta.content)
            if chunk.choices and chunk.choices[0].finish_reason:
                final = chunk.model_extra["bioagent"]
        run = RunResult.model_validate(final)
        for e in run.trace:  # where the time went (shown with -s)
            if e.type == "step":
                print(f"{e.node:>10}: {e.data.get('duration_ms', 0):9.0f} ms, LLM {e.data.get('llm_ms', 0):9.0f} ms "
                      f"in {e.data.get('llm_calls', 0)} calls")
        assert run.answer.strip() and "".join(content) == run.answer, "streamed content = the checked answer"
        steps = [e.node for e in run.trace if e.type == "step"]
        assert {"route", "rewrite", "retrieve", "grade", "answer", "verify"} <= set(steps), steps
        retrieved = [e.data for e in run.trace if e.type == "step" and e.node == "retrieve"]
        assert retrieved and retrieved[0]["total_passages"] >= 1, "the uploaded note (the only document) was found"
        assert all(p.doc_id == "pcv2-rep" for p in run.passages)
        assert run.usage.get("completion_tokens", 0) > 0, "the real model answered"

        history = httpx.get(f"{server.url}/v1/threads/e2e", headers=AUTH).json()["messages"]
        assert [m["content"] for m in history if m["role"] == "user"] == [question]
        assert any(m["role"] == "assistant" for m in history)
        metrics = httpx.get(f"{server.url}/metrics", headers=AUTH).text
        assert 'bioagent_runs_total{endpoint="chat_stream",outcome="ok"} 1.0' in metrics
        assert "bioagent_llm_duration_seconds_count" in metrics
