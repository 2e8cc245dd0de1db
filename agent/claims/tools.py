"""Claims that quote a tool result must match it exactly.

Every position (``Y96``, ``K25A``), number (scores, lengths, ranges such as ``96-99``), motif or sequence string
(``YCSK``), accession and Rep call (yes / no / partial) stated in the claim must occur in the cited tool
result's structured content. A residue stated with its letter must also be that residue in the result's motif
sequences (``Y96`` when the tool found ``YCSK`` starting at 96). A mismatch names what the tool says instead:
``Y95 stated, tool says 96``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from agent.claims.features import _ACCESSION_RE, _RESIDUE_RE, _same, numbers
from agent.claims.split import strip_citations

_SEQ_RE = re.compile(r"\b[ACDEFGHIKLMNPQRSTVWY]{4,}\b")
_CALL_RE = re.compile(r"\bcall(?:ed|s)?\s*(?:is|was|=|:|as)?\s*['\"“]?(yes|no|partial)\b|\b(partial)\s+(?:CRESS\s+)?Rep\b"
                      r"|\bis\s+(not\s+)?a\s+(?:complete\s+)?CRESS(?:-DNA)?(?:\s+virus)?\s+Rep\b|判定[为是：:]\s*(yes|no|partial)",
                      re.I)
# upper-case words that are names, not sequences
_NOT_SEQ = {"CRESS", "HUH", "DNA", "RNA", "ESM", "RCR", "SF3", "NTP", "ATP", "GTP", "PCV", "NCBI", "FASTA", "HMM",
            "MSV", "AAV", "TYPE", "WALKER", "MOTIF", "REPA", "NONE", "TRUE", "FALSE", "PDB", "ORF"}


def tool_content(result: Any) -> tuple[Any, str | None]:
    """(structured content, error) of a tool result given as the run's record ({id, name, ok, content}) or as
    the content itself."""
    if isinstance(result, dict) and "content" in result and ("ok" in result or "name" in result):
        if result.get("ok") is False:
            return None, str(result.get("error") or "the tool call failed")
        content = result.get("content")
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                pass
        return content, None
    return result, None


def _walk(obj: Any, key: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, str(k))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v, key)
    else:
        yield key, obj


def _motif_residues(content: Any) -> dict[int, str]:
    """Residue letter at each 1-based position covered by a motif {start, sequence} in the result."""
    out: dict[int, str] = {}

    def visit(o: Any) -> None:
        if isinstance(o, dict):
            start, seq = o.get("start"), o.get("sequence")
            if isinstance(start, int) and isinstance(seq, str) and seq.isalpha():
                for i, aa in enumerate(seq.upper()):
                    out.setdefault(start + i, aa)
            for v in o.values():
                visit(v)
        elif isinstance(o, list):
            for v in o:
                visit(v)

    visit(content)
    return out


class ToolFacts:
    """Numbers, strings and calls of one or more tool results, for exact look-ups."""

    def __init__(self, contents: list[Any]):
        self.numbers: list[float] = []
        self.strings: list[str] = []
        self.calls: set[str] = set()
        self.residues: dict[int, str] = {}
        for c in contents:
            for key, v in _walk(c):
                if isinstance(v, bool):
                    self.strings.append(str(v).lower())
                elif isinstance(v, (int, float)):
                    self.numbers.append(float(v))
                elif isinstance(v, str):
                    self.strings.append(v)
                    if key.lower() in ("call", "verdict", "is_cress_rep"):
                        self.calls.add(v.strip().lower())
                    self.numbers += [n.value for n in numbers(v)]
            self.residues.update(_motif_residues(c))
        self.text = "\n".join(self.strings).upper()

    def has_number(self, value: float, written: str) -> bool:
        return any(_same(value, v, written) for v in self.numbers)

    def nearest(self, value: float) -> str | None:
        if not self.numbers:
            return None
        v = min(self.numbers, key=lambda x: abs(x - value))
        return f"{v:g}"


def check_tool_claim(claim: str, results: list[Any], extra_text: str = "") -> tuple[bool, list[str]]:
    """(supported, reasons) of a claim against the tool results it cites; values not in a tool result may
    still be found verbatim in ``extra_text`` (the passages the same claim cites)."""
    reasons: list[str] = []
    contents = []
    for r in results:
        content, error = tool_content(r)
        if error is not None:
            reasons.append(f"cites a failed tool call ({error[:120]})")
        else:
            contents.append(content)
    if not contents:
        return False, reasons or ["no tool result to check against"]
    facts = ToolFacts(contents)
    text = strip_citations(claim)
    extra_nums = [n.value for n in numbers(extra_text)]
    residue_spans = []
    for m in _RESIDUE_RE.finditer(text):
        residue_spans.append(m.span())
        aa, pos = m.group(1), int(m.group(2))
        if not facts.has_number(pos, str(pos)) and pos not in facts.residues:
            near = facts.nearest(pos)
            reasons.append(f"{m.group(0)} stated, tool says {near}" if near else f"{m.group(0)} stated, not in the tool result")
        elif pos in facts.residues and facts.residues[pos] != aa and not m.group(3):
            reasons.append(f"{m.group(0)} stated, tool has {facts.residues[pos]} at {pos}")
    for m in _ACCESSION_RE.finditer(text):
        residue_spans.append(m.span())
        if m.group(0).upper() not in facts.text and m.group(0) not in extra_text:
            reasons.append(f"{m.group(0)} stated, not in the tool result")
    for n in _claim_numbers(text, residue_spans):
        if not facts.has_number(n.value, n.text) and not any(_same(n.value, v, n.text) for v in extra_nums):
            near = facts.nearest(n.value)
            reasons.append(f"{n.text} stated, tool says {near}" if near else f"{n.text} stated, not in the tool result")
    for m in _SEQ_RE.finditer(text):
        s = m.group(0)
        if s in _NOT_SEQ or s.upper() in facts.text or s in extra_text:
            continue
        seqs = [x for x in facts.strings if _SEQ_RE.fullmatch(x or "")]
        best = min(seqs, key=lambda x: _hamming(s, x), default=None)
        reasons.append(f"{s} stated, tool says {best}" if best else f"{s} stated, not in the tool result")
    for call in _claim_calls(text):
        if facts.calls and call not in facts.calls:
            reasons.append(f"call '{call}' stated, tool says '{', '.join(sorted(facts.calls))}'")
    return not reasons, reasons


_ZERO_COMPARISON_RE = re.compile(r"(?:below|above|under|over|than|<|>|≤|≥)\s*$", re.I)


def _claim_numbers(text: str, skip: list[tuple[int, int]]):
    """The numbers a claim states about a tool result, signed (``-11.73``), without the version in a name
    (``ESM-2``, ``PCV-2``) or the zero of a sign comparison (``below 0``)."""
    from agent.claims.features import _NUM_RE, Number

    for m in _NUM_RE.finditer(text):
        if any(a <= m.start() < b for a, b in skip):
            continue
        before = text[:m.start()]
        if before.endswith("-") and before[-2:-1].isalnum():
            continue  # a name with a number: ESM-2, PCV-2, COVID-19
        raw = m.group(1).replace(",", "") + (m.group(2) or "")
        value = float(raw)
        if value == 0 and _ZERO_COMPARISON_RE.search(before):
            continue  # "below 0": the sign, checked with the signed value it describes
        if before.endswith(("-", "−")):
            value, written = -value, "-" + m.group(0)
        else:
            written = m.group(0)
        yield Number(value, written)


def _claim_calls(text: str) -> list[str]:
    out = []
    for m in _CALL_RE.finditer(text):
        if m.group(1) or m.group(4):
            out.append((m.group(1) or m.group(4)).lower())
        elif m.group(2):
            out.append("partial")
        else:
            out.append("no" if m.group(3) else "yes")
    return out


def _hamming(a: str, b: str) -> int:
    if len(a) != len(b):
        return abs(len(a) - len(b)) + sum(x != y for x, y in zip(a, b))
    return sum(x != y for x, y in zip(a, b))
