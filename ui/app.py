"""bioagent's Streamlit front end: `bioagent ui` (or `streamlit run ui/app.py`).

Pages: Chat (streamed answers, live trace, citations), Sequence (Rep annotation, mutation scan, report) and
Library (upload, list, search, remove). The sidebar holds the language (中文 / English, remembered per user), the
sign-in over the API, the endpoints' status, the per-run settings and the user's conversation threads.
Everything goes through ui/client.py: the in-process core or the HTTP API.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

try:
    import ui  # noqa: F401  (installed package, or the repository root on the path)
except ModuleNotFoundError:  # `streamlit run ui/app.py` from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st

from ui.i18n import LANG_NAMES, LANGS, SESSION_KEY, t
from ui.render import FAIL_MARK, OK_MARK
from ui.state import (current_user, get_client, new_thread, open_thread, save_language, settings, sign_in,
                      sign_out)
from ui.client import ClientError, sign_in_with_password

st.set_page_config(page_title="bioagent", page_icon="🧬", layout="wide")


def _readiness(client, refresh: bool = False) -> dict:
    cached = st.session_state.get("readiness")
    if refresh or cached is None or time.time() - cached[0] > 300:
        with st.spinner(t("side.checking")):
            cached = (time.time(), client.readiness())
        st.session_state["readiness"] = cached
    return cached[1]


def _tool_names(status: dict) -> list[str]:
    """Tool names the readiness answer reports: a ``tools`` list, or an MCP detail like ``3 tools: a, b, c``."""
    names: list[str] = []
    for entry in status.values():
        tools = entry.get("tools")
        if tools is None and entry.get("ok"):
            found = re.search(r"tools:\s*(.+)$", str(entry.get("detail") or ""))
            tools = [t_.strip() for t_ in found.group(1).split(",")] if found else []
        for tool in tools or []:
            name = tool.get("name") if isinstance(tool, dict) else str(tool)
            if name and name != "none" and name not in names:
                names.append(name)
    return names


def language_picker(client) -> None:
    """The language of the whole UI (and, by default, of reports), remembered as the user's preference."""
    st.session_state.setdefault(SESSION_KEY, "en")
    st.radio(t("side.language"), list(LANGS), key=SESSION_KEY, horizontal=True, format_func=LANG_NAMES.get,
             on_change=_language_changed, args=(client,))
    if st.session_state.get("pref_error"):
        st.caption(st.session_state.pop("pref_error"))


def _language_changed(client) -> None:
    if client is not None:
        st.session_state["pref_error"] = save_language(client)


def sign_in_page() -> None:
    """HTTP mode without a configured key: the user signs in (password, or their own API key)."""
    with st.sidebar:
        st.markdown("### :material/genetics: bioagent")
        language_picker(None)
    st.title(t("auth.title"))
    st.caption(t("auth.intro", url=settings().ui.api_url))
    tab_password, tab_key = st.tabs([t("auth.password_tab"), t("auth.key_tab")])
    with tab_password, st.form("signin_password"):
        username = st.text_input(t("auth.username"), key="signin_user")
        password = st.text_input(t("auth.password"), type="password", key="signin_password")
        by_password = st.form_submit_button(t("auth.submit"), type="primary")
    with tab_key, st.form("signin_key"):
        key = st.text_input(t("auth.key"), type="password", key="signin_key_value")
        by_key = st.form_submit_button(t("auth.submit"))
    try:
        if by_password:
            if not username.strip() or not password:
                st.warning(t("auth.missing", field=t("auth.username" if not username.strip() else "auth.password")))
                return
            sign_in(sign_in_with_password(settings().ui.api_url, username.strip(), password)["api_key"])
            st.rerun()
        if by_key:
            if not key.strip():
                st.warning(t("auth.missing", field=t("auth.key")))
                return
            sign_in(key.strip())
            st.rerun()
    except ClientError as exc:
        st.error(t("auth.failed", error=exc.text()))


def sidebar(client) -> None:
    cfg = settings()
    ss = st.session_state
    me = current_user(client)
    with st.sidebar:
        st.markdown("### :material/genetics: bioagent")
        target = (t("side.target_local") if client.mode == "in-process"
                  else t("side.target_api", url=client.backend.api_url))
        st.caption(t("side.connected", target=target))
        language_picker(client)
        if client.mode == "http":
            st.caption(t("side.user", user=me.get("user", "?"), role=t(f"side.role_{me.get('role', 'user')}")))
            if st.button(t("side.sign_out"), key="sign_out", icon=":material/logout:"):
                sign_out()
                st.rerun()

        summary = st.empty()
        with st.expander(t("side.status"), expanded=False):
            refresh = st.button(t("side.check_again"), key="refresh_readiness")
            status = _readiness(client, refresh)
            for name, entry in status.items():
                detail = str(entry.get("detail") or "")
                mark = OK_MARK if entry.get("ok") else FAIL_MARK
                st.markdown(f"{mark} **{name}**" + (f" — {detail[:160]}" if detail else ""))
        summary.caption("  ".join(f"{OK_MARK if e.get('ok') else FAIL_MARK} {n}" for n, e in status.items()))

        st.markdown("#### " + t("side.run_settings"))
        st.slider(t("side.temperature"), 0.0, 2.0, float(cfg.llm.temperature), 0.05, key="opt_temperature")
        st.slider(t("side.top_p"), 0.05, 1.0, float(cfg.llm.top_p), 0.05, key="opt_top_p")
        st.number_input(t("side.max_rounds"), 0, 10, int(cfg.agent.max_rounds), key="opt_max_rounds")
        st.number_input(t("side.max_tool_calls"), 0, 50, int(cfg.agent.max_tool_calls), key="opt_max_tool_calls")
        st.selectbox(t("side.answer_language"), ["auto", "en", "zh"], key="opt_language",
                     format_func={"auto": t("side.lang_auto"), **LANG_NAMES}.get)
        st.toggle(t("side.search_library"), value=True, key="opt_retrieval")
        tools = _tool_names(status)
        if tools:
            chosen = ss.get("opt_tools_choice", tools)
            with st.expander(t("side.enabled_tools", chosen=len(chosen), total=len(tools))):
                chosen = st.multiselect(t("side.enabled_tools_label"), tools, default=tools, key="opt_tools_choice",
                                        label_visibility="collapsed")
            ss["opt_tools_enabled"] = None if set(chosen) == set(tools) else chosen
        else:
            st.caption(t("side.tools_none"))
            ss["opt_tools_enabled"] = None
        threads_panel(client)


def threads_panel(client) -> None:
    ss = st.session_state
    st.markdown("#### " + t("side.threads"))
    current = ss.get("thread_id")
    st.caption(t("side.current_thread", thread=current) if current else t("side.current_new"))
    if st.button(t("side.new_thread"), key="new_thread", icon=":material/add:"):
        new_thread()
        st.rerun()
    try:
        threads = client.threads()
    except ClientError as exc:
        st.caption(t("side.threads_error", error=exc.text()))
        return
    if not threads:
        st.caption(t("side.no_threads"))
        return
    labels = {th["thread_id"]: f"{th.get('title') or th['thread_id']} · {_when(th.get('updated_at'))}"
              for th in threads}
    pick = st.selectbox(t("side.recent"), list(labels), format_func=labels.get, index=None,
                        placeholder=t("side.recent_placeholder"), key="thread_pick")
    if not pick:
        return
    col_open, col_delete = st.columns(2)
    if pick != current and col_open.button(t("side.open"), key="open_thread_pick"):
        error = open_thread(client, pick)
        if error:
            st.error(error)
        else:
            st.rerun()
    if col_delete.button(t("side.delete"), key="delete_thread_pick", icon=":material/delete:"):
        try:
            client.delete_thread(pick)
        except ClientError as exc:
            st.error(exc.text())
        else:
            if pick == current:
                new_thread()
            ss.pop("thread_pick", None)
            ss["thread_flash"] = t("side.deleted", thread=pick)
            st.rerun()
    if ss.get("thread_flash"):
        st.success(ss.pop("thread_flash"))


def _when(stamp) -> str:
    try:
        return time.strftime("%m-%d %H:%M", time.localtime(float(stamp)))
    except (TypeError, ValueError):
        return str(stamp or "")[:16].replace("T", " ")


client = get_client()
if client is None:
    sign_in_page()
    st.stop()
sidebar(client)
navigation = st.navigation([
    st.Page("views/chat.py", title=t("app.page_chat"), icon=":material/chat:", default=True, url_path="chat"),
    st.Page("views/sequence.py", title=t("app.page_sequence"), icon=":material/genetics:", url_path="sequence"),
    st.Page("views/library.py", title=t("app.page_library"), icon=":material/local_library:", url_path="library"),
], position="top")
navigation.run()
