"""Session plumbing shared by the pages: the signed-in client, the language, the sidebar's run settings and the
conversation threads.

In-process mode: one process-wide client for the local user. HTTP mode: one client per browser session, signed
in with the configured key (BIOAGENT_UI__API_KEY) or with the key the user's sign-in returned; the user's
threads and preferences come from the API, so each user sees only their own.
"""

from __future__ import annotations

import atexit
from typing import Any

import streamlit as st

from agent.events import RunOverrides
from ui.client import BioagentClient, ClientError, configured_key, make_client
from ui.i18n import SESSION_KEY, normalize_lang, t

CLIENT_KEY = "bioagent_client"  # tests (and embedders) may put a ready BioagentClient here before the first run
USER_KEY = "bioagent_user"  # {"user", "role", "preferences"} of the signed-in user


def settings() -> Any:
    from agent.settings import get_settings

    return get_settings()


@st.cache_resource(show_spinner=False)
def _shared_client() -> BioagentClient:
    client = make_client(settings())
    atexit.register(client.close)  # stops the MCP servers and closes the store when Streamlit exits
    return client


def api_url() -> str | None:
    return settings().ui.api_url


def get_client() -> BioagentClient | None:
    """The session's client: an injected one, the in-process one, or this session's signed-in API client (None
    while nobody is signed in)."""
    ss = st.session_state
    client = ss.get(CLIENT_KEY)
    if client is not None:
        return client
    url = api_url()
    if not url:
        return _shared_client()
    key = configured_key(settings())
    if key:  # a deployment that signs every browser in with one configured key
        return sign_in(key)
    return None


def sign_in(api_key: str) -> BioagentClient:
    """Open this session's API client with ``api_key`` and check it (GET /v1/me); raises ClientError if refused."""
    cfg = settings()
    client = make_client(cfg, api_url=cfg.ui.api_url, api_key=api_key)
    try:
        me = client.me()
    except ClientError:
        client.close()
        raise
    st.session_state[CLIENT_KEY] = client
    st.session_state[USER_KEY] = me
    st.session_state["lang_loaded"] = False  # applied by current_user, before the language widget is drawn
    return client


def sign_out() -> None:
    ss = st.session_state
    client = ss.pop(CLIENT_KEY, None)
    if client is not None and client is not _shared_or_none():
        client.close()
    for key in (USER_KEY, "thread_id", "messages", "readiness", "seq_result", "seq_report", "lang_loaded"):
        ss.pop(key, None)


def _shared_or_none() -> BioagentClient | None:
    return _shared_client() if not api_url() else None


def current_user(client: BioagentClient) -> dict:
    """The signed-in user (cached for the session); the language preference is applied on first read."""
    ss = st.session_state
    if USER_KEY not in ss:
        try:
            ss[USER_KEY] = client.me()
        except ClientError:
            ss[USER_KEY] = {"user": "?", "role": "user", "preferences": {}}
    if not ss.get("lang_loaded"):
        apply_preferences(ss[USER_KEY])
    return ss[USER_KEY]


def apply_preferences(me: dict) -> None:
    lang = (me.get("preferences") or {}).get("lang")
    if lang:
        st.session_state[SESSION_KEY] = normalize_lang(lang)
    st.session_state["lang_loaded"] = True


def save_language(client: BioagentClient) -> str | None:
    """Store the sidebar's language as the user's preference. Returns an error message or None."""
    lang = normalize_lang(st.session_state.get(SESSION_KEY))
    try:
        me = client.set_preferences(lang=lang)
    except ClientError as exc:
        return t("side.pref_error", error=exc.text())
    st.session_state[USER_KEY] = me
    return None


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


def new_thread() -> None:
    st.session_state["thread_id"] = None
    st.session_state["messages"] = []


def open_thread(client: BioagentClient, thread_id: str) -> str | None:
    """Continue one of the user's conversations: load its history. Returns an error message or None."""
    thread_id = thread_id.strip()
    if not thread_id:
        return None
    try:
        history = client.history(thread_id)
    except ClientError as exc:
        return t("side.thread_load_error", thread=thread_id, error=exc.text())
    st.session_state["thread_id"] = thread_id
    st.session_state["messages"] = [
        {"role": m.get("role", "assistant"), "content": m.get("content", "")}
        for m in history if m.get("role") in ("user", "assistant") and m.get("content")
    ]
    return None
