"""Sequence: paste or upload FASTA/GenBank, protein or DNA; Rep motifs on the sequence, the mutation scan (when
switched on), the genome and its map for DNA, and the report in the user's language."""

from __future__ import annotations

import base64

import streamlit as st

from ui.client import ClientError
from ui.i18n import LANG_NAMES, LANGS, current_lang, t
from ui.plots import constraint_chart, heatmap_chart, sequence_html
from ui.render import table
from ui.state import get_client

SEQ_TYPES = ["fasta", "fa", "faa", "fas", "fna", "gb", "gbk", "genbank", "gbff", "txt"]
PLACEHOLDER = ">my_rep\nMPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQGFANFVKKQTF..."

st.title(t("seq.title"))
st.caption(t("seq.caption"))
client = get_client()
ss = st.session_state

pasted = st.text_area(t("seq.paste"), height=160, key="seq_text", placeholder=PLACEHOLDER)
uploaded = st.file_uploader(t("seq.upload"), type=SEQ_TYPES, key="seq_file")
text = uploaded.getvalue().decode("utf-8", "replace") if uploaded is not None else pasted

col_scan, col_go = st.columns([3, 1])
with col_scan:
    do_scan = st.toggle(t("seq.scan"), value=True, key="seq_do_scan")
with col_go:
    analyse = st.button(t("seq.analyse"), type="primary", key="seq_analyse")

if analyse:
    for key in ("seq_report", "seq_result", "seq_error", "seq_genome", "seq_genome_error"):
        ss.pop(key, None)
    if not text.strip():
        ss["seq_error"] = t("seq.need_sequence")
    else:
        with st.spinner(t("seq.working_scan") if do_scan else t("seq.working")):
            try:
                ss["seq_result"] = {**client.analyze_sequence(text, scan=do_scan), "scanned": do_scan}
            except ClientError as exc:
                ss["seq_error"] = exc.text()
            else:
                if ss["seq_result"].get("genome") is not None:  # DNA: the map too
                    try:
                        ss["seq_genome"] = client.genome(text, with_map=True)
                    except ClientError as exc:
                        ss["seq_genome_error"] = exc.text()

if ss.get("seq_error"):
    st.error(ss["seq_error"])


def show_genome(genome: dict) -> None:
    st.subheader(t("seq.genome"))
    for rec in genome.get("records") or []:
        st.markdown(t("seq.genome_record", id=rec.get("id"), length=rec.get("length"), topology=rec.get("topology"),
                      family=rec.get("family") or "—", cress=t("seq.yes") if rec.get("is_cress") else t("seq.no")))
        origin = rec.get("origin")
        if origin:
            st.caption(t("seq.origin", origin=origin.get("motif") or origin.get("sequence") or origin
                         if isinstance(origin, dict) else origin))
        genes = [g for g in rec.get("genes") or [] if isinstance(g, dict)]
        if genes:
            table([{t("seq.col_gene"): g.get("id") or g.get("name") or g.get("role"),
                    t("seq.col_start"): g.get("start"), t("seq.col_end"): g.get("end"),
                    t("seq.col_strand"): g.get("strand"), t("seq.col_length"): g.get("protein_length"),
                    t("seq.col_product"): g.get("product")} for g in genes])
    if genome.get("map_png_base64"):
        st.image(base64.b64decode(genome["map_png_base64"]), caption=t("seq.genome_map"))


result = ss.get("seq_result")
if result:
    record = result.get("record") or {}
    st.subheader(t("seq.header", id=record.get("id") or "sequence", n=len(result["sequence"])))
    if record.get("description"):
        st.caption(record["description"])
    for note in result.get("notes") or []:
        st.info(note)
    if len(result.get("records") or []) > 1:
        st.info(t("seq.n_proteins", n=len(result["records"]), id=record.get("id")))
    if record.get("parent"):
        st.caption(t("seq.translated_from", parent=record["parent"], location=record.get("location") or "?"))
    motifs = result.get("motifs") or []
    if result.get("verdict"):
        st.markdown(t("seq.rep_call", verdict=result["verdict"]))
    st.html(sequence_html(result["sequence"], motifs))
    if motifs:
        table([{t("seq.col_motif"): m["name"], t("seq.col_domain"): m.get("domain"),
                t("seq.col_start"): m["start"] + 1, t("seq.col_end"): m["end"], t("seq.col_match"): m.get("match", ""),
                t("seq.col_score"): m.get("score")} for m in motifs])
    else:
        st.caption(t("seq.no_motif"))

    scan = result.get("scan")
    if scan:
        st.altair_chart(heatmap_chart(scan, motifs), width="content")
        st.altair_chart(constraint_chart(scan, motifs), width="stretch")
        if scan.get("model"):
            st.caption(t("seq.scored_with", model=scan["model"]))
    elif result.get("scan_error"):
        st.warning(t("seq.scan_unavailable", error=result["scan_error"]))
    elif not result.get("scanned"):
        st.caption(t("seq.scan_off"))

    if ss.get("seq_genome"):
        show_genome(ss["seq_genome"])
    elif result.get("genome"):
        show_genome(result["genome"])
    for error in (result.get("genome_error"), ss.get("seq_genome_error")):
        if error:
            st.warning(t("seq.genome_error", error=error))

st.divider()
st.subheader(t("seq.report"))
if not ss.get("seq_lang_chosen"):  # the report follows the UI's language unless chosen here
    ss["seq_lang"] = current_lang()
col_lang, col_lit = st.columns([1, 2])
lang = col_lang.radio(t("seq.report_lang"), list(LANGS), horizontal=True, key="seq_lang", format_func=LANG_NAMES.get,
                      on_change=lambda: ss.update(seq_lang_chosen=True))
literature = col_lit.toggle(t("seq.report_literature"), value=True, key="seq_literature")
if st.button(t("seq.write_report"), key="seq_report_btn"):
    if not text.strip():
        st.warning(t("seq.need_sequence"))
    else:
        with st.spinner(t("seq.writing")):
            try:
                ss["seq_report"] = {"lang": lang, **client.report(text, lang=lang, scan=do_scan,
                                                                  literature=literature)}
            except ClientError as exc:
                ss.pop("seq_report", None)
                st.error(exc.text())
report = ss.get("seq_report")
if report:
    markdown = report.get("markdown") or ""
    st.download_button(t("seq.download"), markdown.encode("utf-8"), file_name=f"bioagent-report-{report['lang']}.md",
                       mime="text/markdown", key="seq_report_download", icon=":material/download:")
    with st.container(border=True):
        st.markdown(markdown)
