"""POST /v1/ingest into the real knowledge base (embedded Qdrant, the bundled embedding model), then the agent
finds what was uploaded. Only the chat model is a fake."""

from __future__ import annotations

import httpx

from agent.settings import EmbeddingSettings
from tests.api.conftest import api_settings
from tests.api.helpers import AUTH, FixedLatencyChatModel, LiveServer, ingest

NOTE = b"""---
title: Rep of Beak and feather disease virus
year: 2020
---
# Rep

The Rep protein of beak and feather disease virus nicks the stem-loop origin with its HUH endonuclease motif and
unwinds the genome with its SF3 helicase domain.
"""


def test_upload_into_the_real_knowledge_base(data_dir):
    from agent.api import create_app
    from agent.runner import AgentService

    settings = api_settings(data_dir)
    settings.embedding = EmbeddingSettings(multilingual=False)
    service = AgentService(settings, chat_model=FixedLatencyChatModel(), tools=[])
    with LiveServer(create_app(settings, service=service, close_service=True)) as server:
        job = ingest(server.url, [("files", ("bfdv-rep.md", NOTE, "text/markdown"))], AUTH, shared="true")
        result = job["results"][0]
        assert job["state"] == "done" and result["added"] == ["bfdv-rep"] and result["chunks"] >= 1, job
        assert "warnings" not in result and "error" not in result

        again = ingest(server.url, [("files", ("bfdv-rep.md", NOTE, "text/markdown"))], AUTH, shared="true")
        assert again["results"][0]["unchanged"] == ["bfdv-rep"], "same name, same content: a no-op"

        bad = ingest(server.url, [("files", ("records.jsonl", b'{"id": "x", "text": "ok"}\n{not json\n'))], AUTH)
        assert bad["state"] == "done" and "records.jsonl" in bad["results"][0]["error"], bad
        assert "bioagent-upload-" not in str(bad), "the server's temporary paths are not shown"

        run = httpx.post(f"{server.url}/v1/runs", headers=AUTH, timeout=120,
                         json={"message": "How does the Rep of beak and feather disease virus nick the origin?"})
        assert run.status_code == 200, run.text
        assert any(p["doc_id"] == "bfdv-rep" for p in run.json()["passages"])
        ready = httpx.get(f"{server.url}/readyz", headers=AUTH, timeout=60).json()
        assert ready["checks"]["qdrant"]["ok"], ready
