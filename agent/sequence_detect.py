"""Sequence detection in a user's message: FASTA records and bare protein/DNA runs, mutations like K25A,
and the message's language. Pure and fast (regular expressions)."""

from __future__ import annotations

import re
from typing import Any, Literal

AA = "ACDEFGHIKLMNPQRSTVWYBXZUO"
_AA_SET = set(AA)
_DNA_SET = set("ACGTUN")

# Minimum lengths for a bare (non-FASTA) run of letters to count as a sequence: upper case 20, lower case 30
# (no English word is that long and made of amino-acid letters only).
MIN_UPPER = 20
MIN_LOWER = 30

_FASTA_RE = re.compile(r"(?m)^>[^\n]*\n(?:[ \t]*[A-Za-z*\-]+[ \t]*(?:\n|$))+")
_LETTERS_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z*]+(?![A-Za-z0-9])")
_MUT_RE = re.compile(r"(?<![A-Za-z0-9])([ACDEFGHIKLMNPQRSTVWY])([1-9]\d{0,4})([ACDEFGHIKLMNPQRSTVWY])(?![A-Za-z0-9])")
CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> Literal["en", "zh"]:
    """``zh`` when Chinese characters make up a noticeable share of the letters, else ``en``."""
    cjk = len(CJK_RE.findall(text))
    latin = len(re.findall(r"[A-Za-z]", strip_sequences(text)))
    return "zh" if cjk and cjk * 3 >= max(1, latin) * 0.5 else "en"


def strip_sequences(text: str) -> str:
    return extract_sequences(text)[1]


def _classify(seq: str) -> Literal["protein", "dna"] | None:
    s = seq.upper().rstrip("*")
    if not s:
        return None
    if sum(c in _DNA_SET for c in s) / len(s) >= 0.9:
        return "dna"
    if all(c in _AA_SET or c == "*" for c in s):
        return "protein"
    return None


def extract_sequences(text: str) -> tuple[list[dict[str, Any]], str]:
    """Find FASTA records and bare sequences; return them and the text with placeholders in their place."""
    found: list[dict[str, Any]] = []

    def fasta_sub(m: re.Match) -> str:
        block = m.group(0)
        header, _, body = block.partition("\n")
        seq = re.sub(r"[\s\-]", "", body)
        kind = _classify(seq)
        if kind is None or len(seq) < 5:
            return block
        ident = header[1:].strip().split()[0] if header[1:].strip() else f"seq{len(found) + 1}"
        found.append({"id": ident, "header": header[1:].strip(), "kind": kind, "sequence": seq.upper().rstrip("*"),
                      "source": "fasta"})
        return f"[sequence {ident}, {len(seq)} {'aa' if kind == 'protein' else 'nt'}]\n"

    rest = _FASTA_RE.sub(fasta_sub, text)

    # Bare sequences: runs of amino-acid letters; consecutive runs separated only by white space (wrapped
    # lines, 10-letter groups) join when each piece but the last is at least 10 letters long.
    runs = [m for m in _LETTERS_RE.finditer(rest)]
    groups: list[list[re.Match]] = []
    for m in runs:
        word = m.group(0)
        if not all(c in _AA_SET or c == "*" for c in word.upper()):
            groups.append([])
            continue
        if groups and groups[-1]:
            prev = groups[-1][-1]
            gap = rest[prev.end():m.start()]
            same_case = prev.group(0).isupper() == word.isupper()
            if (gap.strip() == "" and len(prev.group(0)) >= 10 and same_case
                    and ("\n" in gap or len(word) >= 10)):
                groups[-1].append(m)
                continue
        groups.append([m])
    out, last = [], 0
    for g in groups:
        if not g:
            continue
        # Drop short leading words ("in MPSK...") from the group.
        while len(g) > 1 and len(g[0].group(0)) < 10:
            g = g[1:]
        seq = "".join(x.group(0) for x in g)
        upper = seq.upper() == seq
        lower = seq.lower() == seq
        if not (upper or lower) or len(seq) < (MIN_UPPER if upper else MIN_LOWER):
            continue
        kind = _classify(seq)
        if kind is None:
            continue
        ident = f"seq{len(found) + 1}"
        found.append({"id": ident, "header": "", "kind": kind, "sequence": seq.upper().rstrip("*"), "source": "raw"})
        out.append(rest[last:g[0].start()])
        out.append(f"[sequence {ident}, {len(seq)} {'aa' if kind == 'protein' else 'nt'}]")
        last = g[-1].end()
    out.append(rest[last:])
    rest = "".join(out)
    return found, rest.strip()


def extract_mutations(text_without_sequences: str, sequence: str | None = None) -> list[str]:
    """Mutations like ``K25A`` (also ``K25A:G30D``), checked against the sequence when one is given."""
    muts = []
    for wt, pos, mt in _MUT_RE.findall(text_without_sequences):
        if wt == mt:
            continue
        m = f"{wt}{pos}{mt}"
        if m not in muts:
            muts.append(m)
    if sequence and muts:
        consistent = [m for m in muts if int(m[1:-1]) <= len(sequence) and sequence[int(m[1:-1]) - 1] == m[0]]
        if consistent:
            return consistent
    return muts

