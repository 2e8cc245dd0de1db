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
def api_server(settings, make_service):
    """The real API app (real AgentService with the fake chat model, the real knowledge base holding one shared Rep
    passage) served by uvicorn on 127.0.0.1, with an admin key and two users: alice (with a password) and bob."""
    from types import SimpleNamespace

    from agent.api import create_app
    from agent.api.accounts import AccountStore, store_path
    from agent.kb import get_knowledge_base
    from tests.api.helpers import LiveServer

    settings.api.api_key = SecretStr("ui-test-key")
    settings.embedding.multilingual = False  # the English embedding model only: faster, same contract
    accounts = AccountStore(store_path(settings))
    keys = {"admin": "ui-test-key", "alice": accounts.add_user("alice", password="alice-password"),
            "bob": accounts.add_user("bob")}
    accounts.close()
    kb = get_knowledge_base(settings)
    doc = settings.data_dir / "pcv2-rep.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(f"# The Rep protein of porcine circovirus 2\n\n{REP_TEXT}\n", encoding="utf-8")
    kb.ingest_paths([doc])  # no owner: the shared library
    app = create_app(settings, service=make_service(knowledge_base=kb), knowledge_base=kb, close_service=True)
    with LiveServer(app) as server:
        yield SimpleNamespace(url=server.url, keys=keys, kb=kb)
    kb.close()


@pytest.fixture
def api_url(api_server):
    return api_server.url


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
