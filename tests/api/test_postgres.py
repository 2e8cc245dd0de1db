"""The Postgres checkpointer against a real PostgreSQL server (started by the fixture): threads, their owners and
the users survive an API restart, and a second replica with nothing on its local disk serves them too."""

from __future__ import annotations

import httpx
import pytest

from agent.api.accounts import AccountStore
from agent.settings import AgentSettings
from tests.api.conftest import api_settings, real_service
from tests.api.helpers import AUTH, FixedLatencyChatModel, LiveServer


def _app(data_dir, postgres_url, durability: str = "async"):
    from agent.api import create_app

    settings = api_settings(data_dir)
    settings.agent = AgentSettings(checkpoint_url=postgres_url, checkpoint_pool_size=4,
                                   checkpoint_durability=durability)
    service = real_service(settings, FixedLatencyChatModel())
    return create_app(settings, service=service, close_service=True)


def test_threads_survive_a_restart_on_postgres(tmp_path, postgres_url):
    import psycopg

    accounts = AccountStore(postgres_url)  # users live in the same database as the checkpoints
    alice = {"Authorization": f"Bearer {accounts.add_user('alice')}"}
    accounts.close()
    question = "What does the Rep protein of PCV2 do?"
    with LiveServer(_app(tmp_path / "replica-1", postgres_url)) as server:
        for message in (question, "And its helicase domain?"):
            r = httpx.post(f"{server.url}/v1/runs", headers=alice, timeout=60,
                           json={"message": message, "thread_id": "pg-thread"})
            assert r.status_code == 200, r.text
        assert httpx.post(f"{server.url}/v1/runs", headers=AUTH, json={"message": "hi", "thread_id": "adm"},
                          timeout=60).status_code == 200

    with psycopg.connect(postgres_url) as conn:
        stored = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = 'pg-thread'").fetchone()[0]
    assert stored > 0, "the checkpoints are in PostgreSQL"

    # A restarted (or another) replica with an empty data dir: everything comes from PostgreSQL.
    with LiveServer(_app(tmp_path / "replica-2", postgres_url)) as server:
        threads = httpx.get(f"{server.url}/v1/threads", headers=alice).json()["threads"]
        assert [t["thread_id"] for t in threads] == ["pg-thread"] and threads[0]["title"] == question
        history = httpx.get(f"{server.url}/v1/threads/pg-thread", headers=alice).json()["messages"]
        assert [m["content"] for m in history if m["role"] == "user"] == [question, "And its helicase domain?"]
        assert httpx.get(f"{server.url}/v1/threads/adm", headers=alice).status_code == 404, "still the admin's"
        r = httpx.post(f"{server.url}/v1/runs", headers=alice, timeout=60,
                       json={"message": "Which motifs?", "thread_id": "pg-thread"})
        assert r.status_code == 200, r.text
        history = httpx.get(f"{server.url}/v1/threads/pg-thread", headers=alice).json()["messages"]
        assert len([m for m in history if m["role"] == "user"]) == 3
        ready = httpx.get(f"{server.url}/readyz", headers=AUTH).json()
        assert ready["status"] != "not_ready" and "checkpointer" not in ready["failing"], ready


@pytest.mark.parametrize("durability", ["async", "exit"])
def test_concurrent_runs_share_the_pool(tmp_path, postgres_url, durability):
    import concurrent.futures

    with LiveServer(_app(tmp_path / "d", postgres_url, durability)) as server:
        def one(i: int) -> int:
            return httpx.post(f"{server.url}/v1/runs", headers=AUTH, timeout=120,
                              json={"message": f"What does Rep do? ({i})", "thread_id": f"c-{i}"}).status_code

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(one, range(12)))
            codes += list(pool.map(one, range(12)))  # a second turn in each thread
        assert codes == [200] * 24
        for i in (0, 11):
            history = httpx.get(f"{server.url}/v1/threads/c-{i}", headers=AUTH).json()["messages"]
            assert [m["content"] for m in history if m["role"] == "user"] == [f"What does Rep do? ({i})"] * 2
