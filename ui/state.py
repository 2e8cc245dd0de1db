"""Session plumbing shared by the pages: the client, the sidebar's run settings and the conversation threads."""

from __future__ import annotations

import atexit
import json
import time
import zlib
from pathlib import Path
from typing import Any

import streamlit as st

from agent.events import RunOverrides
from ui.client import BioagentClient, make_client

CLIENT_KEY = "bioagent_client"  # tests (and embedders) may put a ready BioagentClient here before the first run


@st.cache_resource(show_spinner=False)
def _shared_client(api_url: str | None) -> BioagentClient:
    client = make_client(api_url=api_url)
    atexit.register(client.close)  # stops the MCP servers and closes the store when Streamlit exits
    return client


def get_client() -> BioagentClient:
    """The session's client: an injected one, else one process-wide client per configured backend."""
    client = st.session_state.get(CLIENT_KEY)
    if client is None:
        from agent.settings import get_settings

        client = _shared_client(get_settings().ui.api_url)
    return client


def settings() -> Any:
    from agent.settings import get_settings

    return get_settings()


def overrides() -> RunOverrides:
    """The sidebar's per-run settings, as the core's RunOverrides."""
    ss = st.session_state
    language = ss.get("opt_language", "auto")
    return RunOverrides(
        temperature=ss.get("opt_temperature"),
        top_p=ss.get("opt_top_p"),
        max_rounds=ss.get("opt_max_rounds"),
        max_tool_calls=ss.get("opt_max_tool_calls"),
        retrieval_enabled=ss.get("opt_retrieval", True),
        tools_enabled=ss.get("opt_tools_enabled"),
        language=None if language == "auto" else language,
    )


# ----------------------------------------------------------------------------------------------------------------
# Threads: the checkpointer holds the conversations; this keeps a small local index of the ones this UI started
# (id, first question, last use) so they can be continued from the sidebar.
# ----------------------------------------------------------------------------------------------------------------


def _threads_file(client: BioagentClient) -> Path:
    key = "local" if client.mode == "in-process" else f"api-{zlib.crc32(client.label.encode()):08x}"
    return Path(settings().data_dir) / "ui" / f"threads-{key}.json"


def load_threads(client: BioagentClient) -> list[dict]:
    try:
        items = json.loads(_threads_file(client).read_text(encoding="utf-8"))
        return [t for t in items if isinstance(t, dict) and t.get("id")]
    except (OSError, ValueError):
        return []


def remember_thread(client: BioagentClient, thread_id: str, title: str) -> None:
    existing = load_threads(client)
    previous = next((t for t in existing if t["id"] == thread_id), None)
    items = [t for t in existing if t["id"] != thread_id]
    items.insert(0, {"id": thread_id, "title": (previous or {}).get("title") or title[:80], "updated": time.time()})
    path = _threads_file(client)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(items[:50], ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError:  # a read-only data dir only loses the index, never the conversation
        pass


def new_thread() -> None:
    st.session_state["thread_id"] = None
    st.session_state["messages"] = []


def open_thread(client: BioagentClient, thread_id: str) -> str | None:
    """Continue a checkpointed conversation: load its history. Returns an error message or None."""
    thread_id = thread_id.strip()
    if not thread_id:
        return None
    try:
        history = client.history(thread_id)
    except Exception as exc:  # noqa: BLE001 - shown to the user
        return f"Could not load thread {thread_id}: {exc}"
    st.session_state["thread_id"] = thread_id
    st.session_state["messages"] = [
        {"role": m.get("role", "assistant"), "content": m.get("content", "")}
        for m in history if m.get("role") in ("user", "assistant") and m.get("content")
    ]
    return None
