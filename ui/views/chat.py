"""Chat: the answer streams in, the trace of every node shows live above it, citations expand to their passages."""

from __future__ import annotations

import streamlit as st

from agent.events import RunResult
from ui.client import describe_error
from ui.render import TraceView, render_citations, render_problems, render_trace
from ui.state import get_client, overrides, remember_thread

st.title("Ask bioagent")
st.caption("Questions about CRESS-DNA viruses and their Rep proteins, in English or 中文. Paste a protein "
           "sequence or FASTA to reach the sequence tools. Every claim is cited to a passage or a tool result.")

client = get_client()
messages: list[dict] = st.session_state.setdefault("messages", [])

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

prompt = st.chat_input("Ask about Rep proteins, CRESS-DNA viruses, or paste a sequence…")
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
            answer_box.markdown(result.answer or "_(no answer)_")
            render_problems(events)
            render_citations(result)
            entry.update(content=result.answer, result=outcome["result"])
            st.session_state["thread_id"] = result.thread_id
            remember_thread(client, result.thread_id, prompt)
        else:
            trace.finish(failed=True)
            error = outcome.get("error") or "The run ended without an answer."
            answer_box.error(error)
            entry.update(content=streamed if isinstance(streamed, str) else "", error=error)
        messages.append(entry)
