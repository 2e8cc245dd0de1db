"""Chat: the answer streams in, the trace of every node shows live above it, citations expand to their passages.
An empty library greets the user with what to do first instead of an empty answer."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from agent.events import RunResult
from ui.client import ClientError, describe_error
from ui.i18n import t
from ui.render import TraceView, render_citations, render_problems, render_trace
from ui.state import get_client, overrides

SAMPLE_LIBRARY = Path(__file__).resolve().parents[2] / "examples" / "library"

st.title(t("chat.title"))
st.caption(t("chat.caption"))

client = get_client()
messages: list[dict] = st.session_state.setdefault("messages", [])


def library_is_empty() -> bool:
    try:
        return int((client.stats() or {}).get("documents") or 0) == 0
    except ClientError:
        return False  # unknown: the chat works anyway, the readiness panel says what is down


def greet_new_user() -> None:
    samples = sorted(SAMPLE_LIBRARY.glob("*.md"))
    with st.container(border=True):
        st.subheader(t("chat.empty_title"))
        st.markdown(t("chat.empty_intro"))
        st.markdown("\n".join(f"- {t(key, n=len(samples))}"
                              for key in ("chat.empty_upload", "chat.empty_sample", "chat.empty_pubmed")))
        col_sample, col_library = st.columns(2)
        if col_sample.button(t("chat.sample_button"), type="primary", key="ingest_sample", icon=":material/download:"):
            if not samples:
                st.error(t("chat.sample_missing", path=SAMPLE_LIBRARY))
                return
            bar = st.progress(0.0, text=t("lib.starting"))
            try:
                job = client.ingest([(p.name, p.read_bytes()) for p in samples], progress=lambda done, total, _n: (
                    bar.progress(done / max(total, 1), text=t("lib.progress_files", done=done, total=total))))
            except ClientError as exc:
                st.error(exc.text())
                return
            results = job.get("results") or []
            st.session_state["chat_flash"] = t("chat.sample_done", docs=sum(1 for r in results if r.get("doc_id")),
                                               chunks=sum(int(r.get("chunks") or 0) for r in results))
            st.rerun()
        col_library.page_link("views/library.py", label=t("chat.go_library"), icon=":material/local_library:")


if st.session_state.get("chat_flash"):
    st.success(st.session_state.pop("chat_flash"))
if not messages and library_is_empty():
    greet_new_user()

for message in messages:
    with st.chat_message(message["role"]):
        if message.get("trace"):
            render_trace(message["trace"], message.get("result"))
        if message.get("error"):
            st.error(message["error"])
        if message.get("content"):
            st.markdown(message["content"])
        if message.get("result"):
            render_problems(message.get("trace") or [])
            render_citations(message["result"])

prompt = st.chat_input(t("chat.input"))
if prompt:
    messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)

    with st.chat_message("assistant"):
        trace = TraceView(st.container(), live=True)
        answer_box = st.empty()
        events: list[dict] = []
        outcome: dict = {}

        def tokens():
            for event in client.stream(prompt, thread_id=st.session_state.get("thread_id"), overrides=overrides()):
                if event.type == "token":
                    yield event.data.get("text", "")
                    continue
                if event.type == "done":
                    outcome["result"] = event.data
                else:
                    events.append(event.model_dump(mode="json"))
                    trace.add(event)

        streamed = ""
        try:
            with answer_box.container():
                streamed = st.write_stream(tokens())
        except Exception as exc:  # LLM down, API unreachable, invalid input: a readable message in the chat
            outcome["error"] = describe_error(exc)

        entry: dict = {"role": "assistant", "content": "", "trace": events}
        if "result" in outcome:
            result = RunResult.model_validate(outcome["result"])
            trace.finish(outcome["result"])
            # The checked answer (citations that point to nothing retrieved are removed) replaces the raw stream.
            answer_box.markdown(result.answer or t("chat.no_answer"))
            render_problems(events)
            render_citations(result)
            entry.update(content=result.answer, result=outcome["result"])
            st.session_state["thread_id"] = result.thread_id
        else:
            trace.finish(failed=True)
            error = outcome.get("error") or t("chat.no_result")
            answer_box.error(error)
            entry.update(content=streamed if isinstance(streamed, str) else "", error=error)
        messages.append(entry)
