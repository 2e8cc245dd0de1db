"""Sequence: paste or upload FASTA/GenBank; Rep motifs on the sequence, the mutation scan and the report."""

from __future__ import annotations

import streamlit as st

from ui.client import ClientError
from ui.plots import constraint_chart, heatmap_chart, sequence_html
from ui.render import table
from ui.state import get_client

SEQ_TYPES = ["fasta", "fa", "faa", "fas", "fna", "gb", "gbk", "genbank", "gbff", "txt"]

st.title("Sequence")
st.caption("A Rep protein (or a CRESS-DNA genome with its CDS) in FASTA or GenBank: its RCR and SF3 motifs, "
           "an ESM-2 mutational scan, and a cited report in English or 中文.")
client = get_client()

pasted = st.text_area("Paste FASTA, GenBank or a bare sequence", height=160, key="seq_text",
                      placeholder=">my_rep\nMPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQGFANFVKKQTF...")
uploaded = st.file_uploader("…or upload a file", type=SEQ_TYPES, key="seq_file")
text = uploaded.getvalue().decode("utf-8", "replace") if uploaded is not None else pasted

col_scan, col_go = st.columns([3, 1])
with col_scan:
    do_scan = st.toggle("Mutation scan (ESM-2, every position x 20 amino acids)", value=True, key="seq_do_scan")
with col_go:
    analyse = st.button("Analyse", type="primary", key="seq_analyse")

if analyse:
    st.session_state.pop("seq_report", None)
    with st.spinner("Annotating" + (" and scanning…" if do_scan else "…")):
        try:
            st.session_state["seq_result"] = client.analyze_sequence(text, scan=do_scan)
            st.session_state.pop("seq_error", None)
        except ClientError as exc:
            st.session_state.pop("seq_result", None)
            st.session_state["seq_error"] = str(exc)

if st.session_state.get("seq_error"):
    st.error(st.session_state["seq_error"])

result = st.session_state.get("seq_result")
if result:
    record = result.get("record") or {}
    st.subheader(f"{record.get('id') or 'sequence'} · {len(result['sequence'])} aa")
    if record.get("description"):
        st.caption(record["description"])
    for note in result.get("notes") or []:
        st.info(note)
    motifs = result.get("motifs") or []
    verdict = result.get("verdict")
    if verdict:
        st.markdown(f"**Rep annotation:** {verdict}")
    st.html(sequence_html(result["sequence"], motifs))
    if motifs:
        table([{"motif": m["name"], "domain": m.get("domain"), "start": m["start"] + 1, "end": m["end"],
                "match": m.get("match", ""), "score": m.get("score")} for m in motifs])
    else:
        st.caption("No Rep motif found.")

    scan = result.get("scan")
    if scan:
        st.altair_chart(heatmap_chart(scan, motifs), width="content")
        st.altair_chart(constraint_chart(scan, motifs), width="stretch")
        if scan.get("model"):
            st.caption(f"Scored with {scan['model']}.")
    elif result.get("scan_error"):
        st.warning(f"Mutation scan unavailable: {result['scan_error']}")

st.divider()
st.subheader("Report")
lang = st.radio("Language", ["en", "zh"], horizontal=True, key="seq_lang",
                format_func={"en": "English", "zh": "中文"}.get)
if st.button("Write report", key="seq_report_btn"):
    if not text.strip():
        st.warning("Paste or upload a sequence first.")
    else:
        with st.spinner("Retrieving literature, annotating, scanning and writing…"):
            try:
                st.session_state["seq_report"] = {"lang": lang, **client.report(text, lang=lang)}
            except ClientError as exc:
                st.session_state.pop("seq_report", None)
                st.error(str(exc))
report = st.session_state.get("seq_report")
if report:
    markdown = report.get("markdown") or ""
    st.download_button("Download Markdown", markdown.encode("utf-8"), file_name=f"bioagent-report-{report['lang']}.md",
                       mime="text/markdown", key="seq_report_download", icon=":material/download:")
    with st.container(border=True):
        st.markdown(markdown)
