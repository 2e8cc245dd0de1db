"""Library: add documents (an ingest job with progress), list them, search them, remove them; the same over the
API (the user's own uploads plus the shared library) as in-process."""

from __future__ import annotations

import time

import streamlit as st

from ui.client import ClientError
from ui.i18n import t
from ui.render import table
from ui.state import get_client

# What the knowledge base's loaders read (agent/kb/loaders.py SUPPORTED_SUFFIXES).
UPLOAD_TYPES = ["pdf", "txt", "text", "md", "markdown", "jsonl", "ndjson"]
SCOPES = ("all", "mine", "shared")

st.title(t("lib.title"))
client = get_client()

st.subheader(t("lib.add"))
uploads = st.file_uploader(t("lib.upload"), type=UPLOAD_TYPES, accept_multiple_files=True, key="library_upload")
if st.button(t("lib.add_button"), disabled=not uploads, type="primary", key="library_add"):
    bar = st.progress(0.0, text=t("lib.starting"))

    def progress(done: int, total: int, name: str) -> None:
        text = t("lib.progress", name=name, done=done, total=total) if name and done < total else (
            t("lib.done") if done >= total else t("lib.progress_files", done=done, total=total))
        bar.progress(done / max(total, 1), text=text)

    try:
        job = client.ingest([(f.name, f.getvalue()) for f in uploads], progress=progress)
    except ClientError as exc:
        st.error(exc.text())
    else:
        results = job.get("results") or []
        failed = [r for r in results if r.get("error")]
        message = t("lib.ingest_summary", docs=sum(1 for r in results if r.get("doc_id") and not r.get("error")),
                    chunks=sum(int(r.get("chunks") or 0) for r in results), errors=len(failed))
        (st.warning if failed else st.success)(message)
        for r in failed:
            st.error(t("lib.file_error", file=r.get("file", "?"), error=r["error"]))

st.subheader(t("lib.documents"))
scope = "all"
if client.mode == "http":
    scope = st.segmented_control(t("lib.scope"), SCOPES, default="all", key="library_scope",
                                 format_func=lambda s: t(f"lib.scope_{s}")) or "all"
try:
    docs = client.list_documents(scope)
    stats = client.stats()
except ClientError as exc:
    st.error(exc.text())
    st.stop()

cols = st.columns(2)
cols[0].metric(t("lib.documents"), stats.get("documents", len(docs)))
cols[1].metric(t("lib.passages"), stats.get("chunks", sum(d["chunks"] for d in docs)))
where = ", ".join(f"{k}: {stats[k]}" for k in ("backend", "location", "embedding_model") if stats.get(k))
if where:
    st.caption(where)
if docs:
    rows = []
    for d in docs:
        stamp = d.get("added")
        added = time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if isinstance(stamp, (int, float)) else stamp
        rows.append({t("lib.col_id"): d["id"], t("lib.col_title"): d["title"], t("lib.col_source"): d["source"],
                     t("lib.col_year"): d["year"], t("lib.col_chunks"): d["chunks"], "doi": d["doi"],
                     t("lib.col_owner"): d["owner"], t("lib.col_added"): added})
    table(rows)
    with st.form("library_remove_form"):
        titles = {d["id"]: f"{d['title'] or d['id']} ({d['id']})" for d in docs}
        doc_id = st.selectbox(t("lib.remove"), list(titles), key="library_remove", format_func=titles.get)
        if st.form_submit_button(t("lib.remove_button")):
            try:
                client.remove(doc_id)
            except ClientError as exc:
                st.error(exc.text())
            else:
                st.session_state["library_flash"] = t("lib.removed", doc=doc_id)
                st.rerun()
else:
    st.caption(t("lib.empty"))
if st.session_state.get("library_flash"):
    st.success(st.session_state.pop("library_flash"))

st.subheader(t("lib.search"))
with st.form("library_search_form"):
    query = st.text_input(t("lib.query"), key="library_query")
    k = st.slider(t("lib.k"), 1, 30, 6, key="library_k")
    searched = st.form_submit_button(t("lib.search_button"))
if searched and query.strip():
    try:
        hits = client.search(query.strip(), k=k)
    except ClientError as exc:
        st.error(exc.text())
    else:
        if not hits:
            st.caption(t("lib.no_match"))
        for i, hit in enumerate(hits, 1):
            where = t("lib.page", page=hit.page) if hit.page is not None else (hit.section or "")
            title = hit.title or hit.doc_id
            label = f"P{i} · {title}" + (f" · {where}" if where and where != title else "")
            with st.expander(f"{label} · {t('lib.score', score=f'{hit.score:.4f}')}"):
                scores = ", ".join(f"{name} {value:.4f}" for name, value in hit.scores.items())
                st.caption(t("lib.hit_scores", doc=hit.doc_id, scores=scores))
                st.markdown(hit.text)
