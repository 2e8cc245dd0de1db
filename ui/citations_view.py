"""The answer's checked citations, each expanding to the passage or tool result it points to, and the tool results
no citation points to (RunResult of agent/events.py, live or replayed)."""

from __future__ import annotations

import json

import streamlit as st

from agent.events import RunResult
from ui.i18n import t
from ui.render import _fmt_ms, _tool_content


def _passage(cit, hit) -> None:
    if hit is None:
        st.caption(cit.label or t("cite.not_in_run"))
        return
    meta = [t("cite.source", value=hit.source or hit.doc_id)]
    if hit.page is not None:
        meta.append(t("cite.page", value=hit.page))
    elif hit.section:
        meta.append(t("cite.section", value=hit.section))
    meta.append(t("cite.score", value=f"{hit.score:.4f}"))
    if hit.doi:
        meta.append(f"**DOI:** {hit.doi}")
    if hit.pmid:
        meta.append(f"**PMID:** {hit.pmid}")
    st.markdown(" · ".join(meta))
    if hit.scores:
        st.caption(t("cite.per_stage", scores=", ".join(f"{k} {v:.4f}" for k, v in hit.scores.items())))
    st.markdown(f"> {hit.text}")
    if hit.url:
        st.markdown(t("cite.open", url=hit.url))


def _tool(tool) -> None:
    if tool.ok:
        _tool_content(tool.content)
    else:
        st.error(tool.error or t("trace.tool_failed"))


def render_citations(result: RunResult | dict) -> None:
    if isinstance(result, dict):
        result = RunResult.model_validate(result)
    passages = {p.chunk_id: p for p in result.passages}
    tools = {tool.id: tool for tool in result.tool_results}
    if result.citations:
        st.markdown(t("cite.sources"))
    for cit in result.citations:
        if cit.kind == "passage":
            hit = passages.get(cit.chunk_id or "")
            title = cit.title or (hit.title if hit else "") or cit.label or cit.doc_id or cit.ref
            with st.expander(f"[{cit.ref}] {title}" + ("" if cit.valid else t("cite.not_verified"))):
                _passage(cit, hit)
        else:
            tool = tools.get(cit.ref)
            with st.expander(t("cite.tool", ref=cit.ref, name=tool.name if tool else cit.label)):
                if tool is None:
                    st.caption(cit.label)
                    continue
                st.markdown(t("cite.tool_args", args=json.dumps(tool.args)[:500], took=_fmt_ms(tool.duration_ms)))
                _tool(tool)
    if result.invalid_citations:
        st.warning(t("cite.removed", refs=", ".join(result.invalid_citations)))
    if result.insufficient_evidence:
        st.info(t("cite.insufficient"))
    cited = {c.ref for c in result.citations}
    extra_tools = [tool for tool in result.tool_results if tool.id not in cited]
    if extra_tools:
        with st.expander(t("cite.extra_tools", n=len(extra_tools))):
            for tool in extra_tools:
                args = json.dumps(tool.args)[:300]
                st.markdown(f"**[{tool.id}] {tool.name}** `{args}` · {_fmt_ms(tool.duration_ms)}")
                _tool(tool)
    footer = [result.model] if result.model else []
    if result.usage:
        footer.append(", ".join(f"{k} {v}" for k, v in result.usage.items()))
    if result.duration_ms:
        footer.append(_fmt_ms(result.duration_ms))
    if footer:
        st.caption(" · ".join(footer))
