"""Conversation checkpointers: a SQLite file in the data dir by default, Postgres by URL for deployments."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from agent.settings import Settings


class CheckpointerUnavailable(RuntimeError):
    """The configured checkpointer cannot be used (missing package, bad URL)."""


def sqlite_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "checkpoints.sqlite"


async def open_checkpointer(settings: Settings, stack: AsyncExitStack) -> Any:
    """Open the checkpointer from ``settings.agent.checkpoint_url``; closed when ``stack`` closes.

    - unset: ``AsyncSqliteSaver`` on ``data_dir/checkpoints.sqlite``;
    - ``sqlite:///path`` or a path ending in ``.sqlite``/``.db``: that SQLite file;
    - ``memory:``: in memory (tests, benchmarks);
    - ``postgresql://...``: ``AsyncPostgresSaver`` on a psycopg_pool ``AsyncConnectionPool`` (at most
      ``checkpoint_pool_size`` connections; extra ``bioagent[postgres]``), so that concurrent runs do not queue
      behind one connection.
    """
    url = settings.agent.checkpoint_url
    if url in ("memory", "memory:", ":memory:"):
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver()
    if url and url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
            from psycopg.rows import dict_row
            from psycopg_pool import AsyncConnectionPool
        except ImportError as exc:
            raise CheckpointerUnavailable(
                "BIOAGENT_AGENT__CHECKPOINT_URL is a Postgres URL but langgraph-checkpoint-postgres is not "
                "installed: pip install 'bioagent[postgres]' (or unset the URL to use the SQLite file)."
            ) from exc
        conn = url.replace("postgresql+psycopg://", "postgresql://")
        size = settings.agent.checkpoint_pool_size  # opened up front: no connection set-up in a burst of runs
        pool = AsyncConnectionPool(conn, min_size=size, max_size=size, open=False,
                                   kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
        try:
            await pool.open(wait=True, timeout=30)
            saver = AsyncPostgresSaver(pool)
            await saver.setup()
        except Exception as exc:  # noqa: BLE001
            await pool.close()
            raise CheckpointerUnavailable(f"cannot open the Postgres checkpointer at {_redact(url)}: {exc}") from exc
        stack.push_async_callback(pool.close)
        return saver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if url:
        path = Path(url.removeprefix("sqlite:///").removeprefix("sqlite://"))
    else:
        path = sqlite_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    saver = await stack.enter_async_context(AsyncSqliteSaver.from_conn_string(str(path)))
    await saver.setup()  # WAL journal
    # WAL + synchronous=NORMAL: no fsync per checkpoint (a power cut may lose the last turns, never corrupt the
    # file); this takes the checkpointer from ~50 ms to a few ms per query.
    await saver.conn.execute("PRAGMA synchronous=NORMAL")
    return saver


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
