"""Fixtures of the UI tests: the real AgentService with a fake chat model, clients over both backends, and
AppTest runs of ui/app.py with such a client."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.ui.fakes import REP_TEXT, MemoryKnowledgeBase, UIFakeChat, sequence_tools

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "ui" / "app.py"


@pytest.fixture
def memory_kb():
    return MemoryKnowledgeBase({"pcv2-rep": REP_TEXT})


@pytest.fixture
def fake_chat():
    return UIFakeChat()


@pytest.fixture
def make_service(settings, fake_chat, memory_kb):
    """``make_service(**kwargs)``: the real AgentService (fake chat model, injected tools, memory KB unless
    given), closed by the client that owns it."""
    from agent.runner import AgentService

    def make(**kwargs):
        kwargs.setdefault("chat_model", fake_chat)
        kwargs.setdefault("knowledge_base", memory_kb)
        kwargs.setdefault("tools", sequence_tools())
        return AgentService(settings, **kwargs)

    return make


@pytest.fixture
def make_client(settings, make_service, memory_kb):
    """``make_client(service=None, knowledge_base=None)``: a BioagentClient over the in-process backend, whose
    library is ``knowledge_base`` (default: the memory KB), the one the service searches."""
    from ui.client import BioagentClient, InProcessBackend

    made = []

    def make(service=None, knowledge_base=None):
        kb = knowledge_base or memory_kb
        service = service or make_service(knowledge_base=kb)
        client = BioagentClient(InProcessBackend(service, knowledge_base=kb, settings=settings))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def app_test():
    """``app_test(client)``: an AppTest of ui/app.py that uses ``client``, already run once."""
    from streamlit.testing.v1 import AppTest

    from ui.state import CLIENT_KEY

    def start(client, timeout: float = 120):
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        at.session_state[CLIENT_KEY] = client
        at.run()
        assert not at.exception, at.exception
        return at

    return start


@pytest.fixture
def api_url(settings, make_service, memory_kb):
    """The real API app (real AgentService, fake chat model) served by uvicorn on 127.0.0.1."""
    from agent.api import create_app
    from tests.api.helpers import LiveServer

    settings.api.api_key = SecretStr("ui-test-key")
    app = create_app(settings, service=make_service(), knowledge_base=memory_kb, close_service=True)
    with LiveServer(app) as server:
        yield server.url


@pytest.fixture
def http_client():
    """``http_client(url, key)``: a BioagentClient over the HTTP backend."""
    from ui.client import BioagentClient, HTTPBackend

    made = []

    def make(url, key="ui-test-key"):
        made.append(BioagentClient(HTTPBackend(url, key)))
        return made[-1]

    yield make
    for client in made:
        client.close()
