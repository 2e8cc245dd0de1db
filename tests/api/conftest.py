"""Fixtures of the API tests: the real AgentService with a fake chat model, a small in-memory knowledge base and
fake MCP tools, served by a real uvicorn on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.settings import APISettings, Settings
from tests.api.helpers import API_KEY, FixedLatencyChatModel, LiveServer, MemoryKB, fake_tools


def api_settings(data_dir: Path, **api: Any) -> Settings:
    api = {"api_key": API_KEY, **api}
    return Settings(data_dir=data_dir, api=APISettings(**api))


def real_service(settings: Settings, model, kb=None, tools=None):
    from agent.runner import AgentService

    return AgentService(settings, chat_model=model, knowledge_base=kb if kb is not None else MemoryKB(),
                        tools=fake_tools() if tools is None else tools)


@pytest.fixture
def fake_model() -> FixedLatencyChatModel:
    return FixedLatencyChatModel()


@pytest.fixture
def kb() -> MemoryKB:
    return MemoryKB()


@pytest.fixture
def make_server(data_dir, kb) -> Iterator[Callable[..., LiveServer]]:
    """``make_server(model=..., service=..., **api_settings)``: a started LiveServer (stopped after the test).
    Without ``service``, the real AgentService with ``model`` (default: an instant fake)."""
    servers: list[LiveServer] = []

    def make(model=None, service=None, knowledge_base=None, **api: Any) -> LiveServer:
        from agent.api import create_app

        settings = api_settings(data_dir, **api)
        if service is None:
            service = real_service(settings, model or FixedLatencyChatModel(), kb=knowledge_base or kb)
        # The app closes the service at shutdown, on the server's own event loop.
        app = create_app(settings, service=service, knowledge_base=knowledge_base or kb, close_service=True)
        srv = LiveServer(app).__enter__()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.__exit__(None, None, None)


@pytest.fixture
def server(make_server, fake_model) -> LiveServer:
    return make_server(model=fake_model)


from tests.fixtures.postgres import postgres_server, postgres_url  # noqa: E402,F401  (a real PostgreSQL server)
