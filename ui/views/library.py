"""Library: add documents to the knowledge base (with progress), list them, search them, remove them."""

from __future__ import annotations

import time

import streamlit as st

from ui.client import ClientError
from ui.render import table
from ui.state import get_client

# What the knowledge base's loaders read (agent/kb/loaders.py SUPPORTED_SUFFIXES).
UPLOAD_TYPES = ["pdf", "txt", "text", "md", "markdown", "jsonl", "ndjson"]

st.title("Library")
client = get_client()

st.subheader("Add documents")
uploads = st.file_uploader("PDF, text, Markdown or JSONL records (one document a line)", type=UPLOAD_TYPES,
                           accept_multiple_files=True, key="library_upload")
if st.button("Add to library", disabled=not uploads, type="primary", key="library_add"):
    bar = st.progress(0.0, text="Starting…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"Ingesting {name} ({done + 1}/{total})" if name else "Done")

    files = [(f.name, f.getvalue()) for f in uploads]
    try:
        report = client.ingest(files, progress=progress)
    except ClientError as exc:
        st.error(str(exc))
    else:
        added, replaced, unchanged = (report.get(k) or [] for k in ("added_docs", "replaced_docs", "unchanged_docs"))
        message = (f"{len(added)} added, {len(replaced)} replaced, {len(unchanged)} unchanged; "
                   f"{report.get('chunks_written', 0)} passages written in {report.get('seconds', 0.0):.1f} s.")
        (st.success if not report.get("errors") else st.warning)(message)
        for error in report.get("errors") or []:
            st.error(error)
        for warning in report.get("warnings") or []:
            st.caption(f":material/warning: {warning}")

if not client.can_manage_library:
    st.info("Connected to the bioagent API, which accepts uploads only: list, search and remove documents with "
            "`bioagent ui` in-process or `bioagent kb` on the server.")
    st.stop()

st.subheader("Documents")
try:
    docs = client.list_documents()
    stats = client.stats()
except ClientError as exc:
    st.error(str(exc))
    st.stop()

if stats:
    cols = st.columns(2)
    cols[0].metric("Documents", stats.get("documents", len(docs)))
    cols[1].metric("Passages", stats.get("chunks", sum(d.chunks for d in docs)))
    where = ", ".join(f"{k}: {stats[k]}" for k in ("backend", "location", "embedding_model") if stats.get(k))
    if where:
        st.caption(where)
if docs:
    columns = ["doc_id", "title", "source", "year", "chunks", "doi", "pmid"]
    rows = [{c: getattr(d, c, None) for c in columns} for d in docs]
    for row, doc in zip(rows, docs):
        stamp = getattr(doc, "ingested_at", None)
        row["added"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else None
    table(rows)
    with st.form("library_remove_form"):
        doc_id = st.selectbox("Remove a document", [d.doc_id for d in docs], key="library_remove",
                              format_func=lambda i: next((f"{d.title or i} ({i})" for d in docs if d.doc_id == i), i))
        if st.form_submit_button("Remove"):
            try:
                client.remove(doc_id)
            except ClientError as exc:
                st.error(str(exc))
            else:
                st.session_state["library_flash"] = f"Removed {doc_id}."
                st.rerun()
else:
    st.caption("The library is empty: add documents above, or `bioagent ingest PATH`.")
if st.session_state.get("library_flash"):
    st.success(st.session_state.pop("library_flash"))

st.subheader("Search")
with st.form("library_search_form"):
    query = st.text_input("Query", key="library_query")
    k = st.slider("Passages", 1, 30, 6, key="library_k")
    searched = st.form_submit_button("Search")
if searched and query.strip():
    try:
        hits = client.search(query.strip(), k=k)
    except ClientError as exc:
        st.error(str(exc))
    else:
        if not hits:
            st.caption("No passage matched.")
        for i, hit in enumerate(hits, 1):
            where = f"p. {hit.page}" if hit.page is not None else (hit.section or "")
            title = hit.title or hit.doc_id
            label = f"P{i} · {title}" + (f" · {where}" if where and where != title else "")
            with st.expander(f"{label} · score {hit.score:.4f}"):
                st.caption(f"{hit.doc_id} · per stage: " + ", ".join(f"{k} {v:.4f}" for k, v in hit.scores.items()))
                st.markdown(hit.text)
