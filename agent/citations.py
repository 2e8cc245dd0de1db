"""Citation checking.

An answer cites passages as ``[P1]`` and tool results as ``[T1]`` (several ids in one bracket are accepted:
``[P1, P3]``). Every id is checked against what the run actually retrieved or computed: an id that was not
is removed from the answer and reported in ``RunResult.invalid_citations``.
"""

from __future__ import annotations

import re
from typing import Any

from agent.query_heuristics import keywords, question_terms  # noqa: F401 (question_terms re-exported)

_BRACKET_RE = re.compile(r"\[\s*((?:[PT]\d{1,3})(?:\s*[,;]\s*[PT]\d{1,3})*)\s*\]")
_ID_RE = re.compile(r"[PT]\d{1,3}")


def cited_ids(text: str) -> list[str]:
    out: list[str] = []
    for m in _BRACKET_RE.finditer(text):
        for ref in _ID_RE.findall(m.group(1)):
            if ref not in out:
                out.append(ref)
    return out


def strip_citation_tags(text: str) -> str:
    """The text without ``[P1]``/``[T2, P3]`` tags (history given to the model: ids are renumbered each turn)."""
    out = _BRACKET_RE.sub("", text)
    out = re.sub(r"[ \t]+([.,;:。，；])", r"\1", out)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


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


def is_reference_section(hit: dict[str, Any]) -> bool:
    """A bibliography chunk (cited by the answer only as a last resort)."""
    where = f"{hit.get('section') or ''}".lower()
    return any(w in where for w in ("reference", "bibliograph", "literature cited", "参考文献"))
