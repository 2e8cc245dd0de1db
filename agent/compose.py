"""The evidence composer: an answer built without a generating model.

Tool results are stated in plain words (``agent.tool_statements``), then the passages' own sentences that
answer the question best (``agent.sentences``: ranked per sentence, whole sentences, near-duplicates dropped),
each with its ``[P#]`` citation. Used by evidence mode, as the fallback when a model's answer fails its checks,
and when a run hits its time limit. Chinese questions get Chinese framing (the quoted sentences stay English).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agent.citations import check_citations
from agent.prompts import MISSING, NOT_ENOUGH
from agent.sentences import cite, rank_sentences, select
from agent.tool_statements import error_line, finding_queries, tool_statements

SENTENCES = 4
HEADERS = {
    "tools": {"en": "Sequence analysis:", "zh": "序列分析结果："},
    "passages": {"en": "From the library (the passages' own sentences, most relevant first):",
                 "zh": "文献库中与问题最相关的原文句子（英文原文，按相关性排序）："},
    "weak": {"en": "The library has little on this question; the closest sentences are:",
             "zh": "文献库中与此问题相关的内容很少；最接近的句子是："},
}
EMPTY_LIBRARY = {
    "en": "Your library is empty, so there are no papers to answer from yet. Add some: run `bioagent ingest "
          "examples/library` (the bundled notes on CRESS-DNA viruses) or `bioagent ingest <folder>` with your own "
          "PDFs, upload papers on the UI's Library page, or ask me to search PubMed, e.g. \"search PubMed for "
          "circovirus Rep and add the results to my library\".",
    "zh": "你的文献库是空的，目前没有可以引用的文献。可以这样添加：运行 `bioagent ingest examples/library`（自带的 CRESS-DNA "
          "病毒资料）或 `bioagent ingest <文件夹>` 导入你自己的 PDF，在界面的 Library 页面上传论文，或者让我检索 PubMed，"
          "例如“检索 PubMed 中关于 circovirus Rep 的文献并加入我的文献库”。",
}
CORRECTIVE = {
    "en": "The library did not have enough on this, so I searched {source} for \"{query}\" and added {n} record(s) "
          "to the library (PMID {pmids}); the passages cited above include them.",
    "zh": "文献库中相关内容不足，因此我在 {source} 检索了“{query}”，并将 {n} 篇文献加入文献库（PMID {pmids}）；上面引用的段落包括这些文献。",
}
CORRECTIVE_NONE = {
    "en": "The library did not have enough on this, and a {source} search for \"{query}\" added nothing new.",
    "zh": "文献库中相关内容不足，在 {source} 检索“{query}”也没有找到可加入的新文献。",
}


def encoder_for(settings: Any) -> Callable[[list[str]], np.ndarray] | None:
    """The embedding model of the knowledge base (shared, loaded once per process), or None if it cannot load."""
    try:
        from agent.kb.embeddings import get_embedder

        emb = get_embedder(settings.embedding.model, settings.embedding.device)
    except Exception:  # noqa: BLE001 - lexical ranking still works
        return None
    return lambda texts: emb.encode_documents(texts)


def corrective_line(info: dict[str, Any] | None, lang: str) -> str:
    if not info or not info.get("source"):
        return ""
    lang = lang if lang in CORRECTIVE else "en"
    if info.get("added"):
        return CORRECTIVE[lang].format(source=info["source"], query=info.get("query", ""), n=info["added"],
                                       pmids=", ".join(info.get("pmids") or []))
    return CORRECTIVE_NONE[lang].format(source=info["source"], query=info.get("query", ""))


def closing_lines(lang: str, tool_results: list[dict[str, Any]], insufficient: bool, missing: str,
                  corrective: dict[str, Any] | None, library_empty: bool, text: str = "",
                  not_enough: bool = True) -> list[str]:
    """Lines said after the checked answer: one per failed tool call (no citation: it proves nothing), what is
    missing, what was pulled from PubMed, an empty library."""
    lang = lang if lang in NOT_ENOUGH else "en"
    lines = [error_line(r, lang) for r in tool_results if not r.get("ok")]
    if insufficient and not_enough and NOT_ENOUGH[lang] not in text:
        lines.append(NOT_ENOUGH[lang])
    if insufficient and missing and missing not in text:
        lines.append(MISSING[lang].format(what=missing))
    line = corrective_line(corrective, lang)
    if line and line not in text:
        lines.append(line)
    if library_empty:
        lines.append(EMPTY_LIBRARY[lang])
    return lines


def compose_answer(question: str, lang: str, passages: list[tuple[str, dict]], tools: list[dict[str, Any]],
                   mutations: list[str], insufficient: bool, missing: str,
                   encode: Callable[[list[str]], np.ndarray] | None, n_sentences: int = SENTENCES
                   ) -> tuple[str, dict[str, Any]]:
    """(answer text, details for the trace: the sentences chosen with their scores). What the evidence lacks,
    failed tool calls and the corrective search are said by ``closing_lines``, after the claims are checked."""
    lang = lang if lang in HEADERS["tools"] else "en"
    lines: list[str] = []
    statements = tool_statements(tools, mutations, lang)
    if statements:
        lines.append(HEADERS["tools"][lang])
        lines += [f"- {s}" for s in statements]
    focus = finding_queries(tools, mutations)  # a mutation inside a found motif: what the library says about it
    ranked = rank_sentences(question, [(ref, hit.get("text", "")) for ref, hit in passages], encode, focus)
    chosen = select(ranked, n_sentences)
    if chosen:
        if lines:  # a blank line ends the tool list: in Markdown the lead-in would otherwise join its last item
            lines.append("")
        lines.append(HEADERS["weak" if insufficient else "passages"][lang])
        lines += [f"- {cite(r.text, r.ref)}" for r in chosen]
    if not (chosen or statements):
        lines.append(NOT_ENOUGH[lang])
    details = {"sentences": [{"ref": r.ref, "score": round(r.score, 3), "cosine": round(r.cosine, 3),
                              "lexical": round(r.lexical, 3), "text": r.text[:160],
                              **({"focus": r.focus} if r.focus else {})} for r in chosen],
               "candidates": len(ranked), "tool_statements": len(statements), "focus": focus}
    return "\n".join(lines).strip(), details


def compose_after_timeout(values: dict[str, Any], settings: Any) -> dict[str, Any]:
    """A run that hit its time limit: the composer's answer from what it had gathered (``values``: the state
    updates so far), citations checked and closing lines added; returns ``values`` with the answer fields set."""
    grades = values.get("grades") or {}
    passages = values.get("context_passages") or [
        p for p in values.get("passages", []) if grades.get(p["chunk_id"])] or values.get("passages", [])[:3]
    passages = passages[: settings.agent.max_context_passages]
    refs = [(f"P{i}", p) for i, p in enumerate(passages, start=1)]
    lang = values.get("language", "en")
    tools = values.get("tool_results", [])
    insufficient = not values.get("sufficient", False)
    question = values.get("search_text") or values.get("question_text") or values.get("question", "")
    encode = encoder_for(settings) if refs else None
    answer, _ = compose_answer(question, lang, refs, tools, values.get("mutations", []), insufficient,
                               values.get("missing", ""), encode)
    answer, citations, invalid = check_citations(answer, dict(refs), {r["id"]: r for r in tools if r.get("ok")})
    extra = closing_lines(lang, tools, insufficient, values.get("missing", ""), values.get("corrective"),
                          bool(values.get("library_empty")), answer)
    answer = "\n\n".join([answer, "\n".join(extra)]) if extra else answer
    values.update(context_passages=passages, answer=answer, citations=citations, invalid_citations=invalid,
                  used_fallback=True, insufficient_evidence=insufficient, answer_mode="fallback")
    return values
