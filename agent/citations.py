"""Citation checking and the extractive fallback answer.

An answer cites passages as ``[P1]`` and tool results as ``[T1]`` (several ids in one bracket are accepted:
``[P1, P3]``). Every id is checked against what the run actually retrieved or computed: an id that was not
is removed from the answer and reported in ``RunResult.invalid_citations``.
"""

from __future__ import annotations

import re
from typing import Any

from agent.guards import keywords
from agent.prompts import FALLBACK_HEADER, MISSING, NOT_ENOUGH, TOOL_HEADER, tool_content_text

_BRACKET_RE = re.compile(r"\[\s*((?:[PT]\d{1,3})(?:\s*[,;]\s*[PT]\d{1,3})*)\s*\]")
_ID_RE = re.compile(r"[PT]\d{1,3}")


def cited_ids(text: str) -> list[str]:
    out: list[str] = []
    for m in _BRACKET_RE.finditer(text):
        for ref in _ID_RE.findall(m.group(1)):
            if ref not in out:
                out.append(ref)
    return out


def check_citations(text: str, passage_refs: dict[str, dict], tool_refs: dict[str, dict]
                    ) -> tuple[str, list[dict], list[str]]:
    """Return (answer with invalid ids removed, citations, invalid ids)."""
    valid = set(passage_refs) | set(tool_refs)
    invalid: list[str] = []

    def fix(m: re.Match) -> str:
        refs = _ID_RE.findall(m.group(1))
        keep = []
        for r in refs:
            if r in valid:
                if r not in keep:
                    keep.append(r)
            elif r not in invalid:
                invalid.append(r)
        return f"[{', '.join(keep)}]" if keep else ""

    cleaned = _BRACKET_RE.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:。，；])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    citations = []
    for ref in cited_ids(cleaned):
        if ref in passage_refs:
            hit = passage_refs[ref]
            label = _hit_label(hit)
            citations.append({"ref": ref, "kind": "passage", "chunk_id": hit.get("chunk_id"),
                              "doc_id": hit.get("doc_id"), "title": hit.get("title") or None, "label": label,
                              "valid": True})
        elif ref in tool_refs:
            tr = tool_refs[ref]
            citations.append({"ref": ref, "kind": "tool", "label": f"{tr.get('name')} (tool result)",
                              "valid": True})
    return cleaned, citations, invalid


def _hit_label(hit: dict[str, Any]) -> str:
    parts = [hit.get("title") or hit.get("doc_id") or ""]
    if hit.get("page") is not None:
        parts.append(f"p. {hit['page']}")
    elif hit.get("section"):
        parts.append(str(hit["section"]))
    if hit.get("doi"):
        parts.append(f"doi:{hit['doi']}")
    elif hit.get("pmid"):
        parts.append(f"PMID:{hit['pmid']}")
    return ", ".join(p for p in parts if p)


def is_garbage(text: str) -> bool:
    """Empty, too short, or degenerate (the same few tokens repeated) text."""
    t = text.strip()
    if len(t) < 8:
        return True
    tokens = re.findall(r"\w+", t)
    if not tokens and not re.search(r"[\u4e00-\u9fff]", t):
        return True
    if len(tokens) >= 12 and len(set(tokens)) / len(tokens) < 0.2:
        return True
    return False


def leaks_prompt(text: str, system_prompt: str, min_len: int = 60) -> bool:
    """Does the answer reproduce a long stretch of the system prompt?"""
    norm = re.sub(r"\s+", " ", text)
    sp = re.sub(r"\s+", " ", system_prompt)
    for i in range(0, max(1, len(sp) - min_len), 20):
        if sp[i:i + min_len] in norm:
            return True
    return False


def has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?。！？])\s+", re.sub(r"\s+", " ", text).strip())
    return [p.strip() for p in parts if len(p.strip()) > 20]


_REF_SENT_RE = re.compile(r"\bdoi\b|doi\.org|\bPMID\b|^\(?\d{4}[a-z]?\)|\bet al\.,? \(?\d{4}|\bvol\.|\bpp\.", re.I)


def is_reference_section(hit: dict[str, Any]) -> bool:
    """A bibliography chunk (cited by the answer only as a last resort)."""
    where = f"{hit.get('section') or ''}".lower()
    return any(w in where for w in ("reference", "bibliograph", "literature cited", "参考文献"))


def best_sentences(text: str, query_terms: set[str], n: int = 2) -> list[str]:
    sents = [s for s in _sentences(text) if not _REF_SENT_RE.search(s)]
    if not sents:
        return []
    scored = []
    for i, s in enumerate(sents):
        words = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9\-]+", s)}
        overlap = len(words & query_terms)
        scored.append((overlap, -i, s))
    scored.sort(reverse=True)
    chosen = sorted(scored[:n], key=lambda x: -x[1])
    return [s if len(s) <= 400 else s[:400].rsplit(" ", 1)[0] + " ..." for _, _, s in chosen]


def summarise_tool(result: dict[str, Any], max_chars: int = 300) -> str:
    content = result.get("content")
    if not result.get("ok"):
        return f"{result.get('name')} failed: {result.get('error')}"
    if isinstance(content, dict) and isinstance(content.get("records"), list) and content["records"] \
            and isinstance(content["records"][0], dict):
        content = content["records"][0]
    if isinstance(content, dict):
        if "call" in content and isinstance(content.get("motifs"), list):
            motifs = ", ".join(f"{m.get('name', m.get('key'))} {m.get('sequence', '')}@{m.get('start')}"
                               for m in content["motifs"] if isinstance(m, dict))
            return f"{result.get('name')}: CRESS Rep call = {content['call']}" + (f"; motifs: {motifs}" if motifs else "")
        for key in ("summary", "call", "verdict", "is_cress_rep", "result"):
            if key in content and not isinstance(content[key], (dict, list)):
                return f"{result.get('name')}: {key} = {content[key]}"
        items = []
        for k, v in content.items():
            if isinstance(v, (str, int, float, bool)) and len(str(v)) < 80:
                items.append(f"{k}={v}")
            if len(items) >= 6:
                break
        if items:
            return f"{result.get('name')}: " + ", ".join(items)
    return f"{result.get('name')}: " + tool_content_text(content, max_chars)


def extractive_answer(question_terms: list[str], passages: list[tuple[str, dict]], tools: list[dict],
                      language: str, insufficient: bool, missing: str, max_passages: int = 3) -> str:
    """An answer built from the top passages' best sentences and the tool results, each cited."""
    terms = {t.lower() for t in question_terms}
    lines: list[str] = []
    if tools:
        lines.append(TOOL_HEADER.get(language, TOOL_HEADER["en"]))
        for r in tools:
            lines.append(f"- {summarise_tool(r)} [{r['id']}]")
    if passages:
        lines.append(FALLBACK_HEADER.get(language, FALLBACK_HEADER["en"]))
        shown = 0
        for ref, hit in sorted(passages, key=lambda rp: is_reference_section(rp[1])):
            if shown >= max_passages:
                break
            sents = best_sentences(hit.get("text", ""), terms)
            if sents:
                lines.append(f"- {' '.join(sents)} [{ref}]")
                shown += 1
    if insufficient or (not passages and not tools):
        lines.append(NOT_ENOUGH.get(language, NOT_ENOUGH["en"]))
        if missing:
            lines.append(MISSING.get(language, MISSING["en"]).format(what=missing))
    return "\n".join(lines).strip()


def question_terms(text: str) -> list[str]:
    from agent.guards import gloss_translate

    terms = keywords(text)
    if has_cjk(text):
        terms += keywords(gloss_translate(text))
    return terms
