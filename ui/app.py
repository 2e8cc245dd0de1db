"""bioagent's Streamlit front end: `bioagent ui` (or `streamlit run ui/app.py`).

Pages: Chat (streamed answers, live trace, citations), Sequence (Rep annotation, mutation scan, report) and
Library (upload, list, search, remove). The sidebar shows the endpoints' status and the per-run settings, and
keeps the conversation threads. Everything goes through ui/client.py: the in-process core or the HTTP API.
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

from ui.render import FAIL_MARK, OK_MARK
from ui.state import get_client, load_threads, new_thread, open_thread, settings


st.set_page_config(page_title="bioagent", page_icon="🧬", layout="wide")


def _readiness(client, refresh: bool = False) -> dict:
    cached = st.session_state.get("readiness")
    if refresh or cached is None or time.time() - cached[0] > 300:
        with st.spinner("Checking the model endpoint, the library and the tool servers…"):
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
            tools = [t.strip() for t in found.group(1).split(",")] if found else []
        for tool in tools or []:
            name = tool.get("name") if isinstance(tool, dict) else str(tool)
            if name and name != "none" and name not in names:
                names.append(name)
    return names


def sidebar() -> None:
    client = get_client()
    cfg = settings()
    ss = st.session_state
    with st.sidebar:
        st.markdown("### :material/genetics: bioagent")
        st.caption(f"Connected to the {client.label}.")

        summary = st.empty()
        with st.expander("Endpoint status", expanded=False):
            refresh = st.button("Check again", key="refresh_readiness")
            status = _readiness(client, refresh)
            for name, entry in status.items():
                detail = str(entry.get("detail") or "")
                mark = OK_MARK if entry.get("ok") else FAIL_MARK
                st.markdown(f"{mark} **{name}**" + (f" — {detail[:160]}" if detail else ""))
        summary.caption("  ".join(f"{OK_MARK if e.get('ok') else FAIL_MARK} {n}" for n, e in status.items()))

        st.markdown("#### Run settings")
        st.slider("Temperature", 0.0, 2.0, float(cfg.llm.temperature), 0.05, key="opt_temperature")
        st.slider("Top p", 0.05, 1.0, float(cfg.llm.top_p), 0.05, key="opt_top_p")
        st.number_input("Max re-retrieval rounds", 0, 10, int(cfg.agent.max_rounds), key="opt_max_rounds")
        st.number_input("Max tool calls", 0, 50, int(cfg.agent.max_tool_calls), key="opt_max_tool_calls")
        st.selectbox("Answer language", ["auto", "en", "zh"], key="opt_language",
                     format_func={"auto": "Same as the question", "en": "English", "zh": "中文"}.get)
        st.toggle("Search the library", value=True, key="opt_retrieval")
        tools = _tool_names(status)
        if tools:
            chosen = ss.get("opt_tools_choice", tools)
            with st.expander(f"Enabled tools ({len(chosen)}/{len(tools)})"):
                chosen = st.multiselect("Enabled tools", tools, default=tools, key="opt_tools_choice",
                                        label_visibility="collapsed")
            ss["opt_tools_enabled"] = None if set(chosen) == set(tools) else chosen
        else:
            st.caption("Tools: every tool of the configured MCP servers (none reported yet).")
            ss["opt_tools_enabled"] = None

        st.markdown("#### Threads")
        current = ss.get("thread_id")
        st.caption(f"Current: `{current}`" if current else "Current: a new conversation")
        if st.button("New thread", key="new_thread", icon=":material/add:"):
            new_thread()
            st.rerun()
        threads = load_threads(client)
        if threads:
            labels = {t["id"]: f"{t.get('title') or t['id']} · {time.strftime('%m-%d %H:%M', time.localtime(t.get('updated', 0)))}"
                      for t in threads}
            pick = st.selectbox("Recent", list(labels), format_func=labels.get, index=None,
                                placeholder="Continue a thread…", key="thread_pick")
            if pick and pick != current and st.button("Open", key="open_thread_pick"):
                error = open_thread(client, pick)
                if error:
                    st.error(error)
                else:
                    st.rerun()
        typed = st.text_input("Continue by id", key="thread_typed", placeholder="thread id")
        if typed and typed.strip() != current and st.button("Continue", key="open_thread_typed"):
            error = open_thread(client, typed)
            if error:
                st.error(error)
            else:
                st.rerun()


pages = [
    st.Page("views/chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page("views/sequence.py", title="Sequence", icon=":material/genetics:"),
    st.Page("views/library.py", title="Library", icon=":material/local_library:"),
]
navigation = st.navigation(pages, position="top")
sidebar()
navigation.run()
