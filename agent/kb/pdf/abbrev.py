"""Abbreviations a paper defines, so that a table row written in them ("rCDV | 6,165,559 | ...") can say what
they stand for ("rCDV: recombinant canine distemper virus").

Definitions are read two ways: "long form (SF)" in running text, the long form found by the Schwartz-Hearst
rule (the short form's letters matched right to left in the words before the parenthesis, its first letter at
the start of a word; Schwartz & Hearst, PSB 2003), and footnote lists "Abbreviations: SF, long form; ...".
"""

from __future__ import annotations

import re

_PAREN_RE = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9\-]{1,9})\s*\)")
_LIST_RE = re.compile(r"\babbreviations?\s*(?:used)?\s*:\s*(.+)", re.I | re.S)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-]{1,9}")


def _short_form_ok(sf: str) -> bool:
    return any(c.isupper() for c in sf) and sum(c.isalpha() for c in sf) >= 2 and sf.lower() not in {"fig", "table"}


def long_form(sf: str, before: str) -> str | None:
    """The long form of ``sf`` at the end of ``before`` (Schwartz-Hearst), or None."""
    before = re.split(r"[.;:()\[\]]\s", before)[-1].strip()
    words = before.split()
    words = words[-min(len(sf) + 5, 2 * len(sf)):]
    lf = " ".join(words)
    s, i = len(sf) - 1, len(lf) - 1
    while s >= 0:
        c = sf[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while i >= 0 and (lf[i].lower() != c or (s == 0 and i > 0 and lf[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    out = lf[lf.rfind(" ", 0, i + 1) + 1:].strip()
    if not out or len(out) <= len(sf) or sf.lower() in out.lower().split() or not _plain(out):
        return None
    return out


def _plain(lf: str) -> bool:
    """Words, not chemistry or a clause: no brackets, few digits, not opening with a function word."""
    chars = lf.replace(" ", "")
    return not re.search(r"[()\[\]=]", lf) and sum(c.isalpha() for c in chars) >= 0.8 * len(chars) \
        and lf.split()[0].lower() not in _FUNCTION_WORDS


_FUNCTION_WORDS = {"to", "of", "and", "the", "in", "for", "with", "a", "an", "by", "on", "or", "as", "at", "from"}


def definitions(texts: list[str]) -> dict[str, str]:
    """{short form: long form} defined anywhere in ``texts`` (the first definition of each wins)."""
    defs: dict[str, str] = {}
    for text in texts:
        for m in _PAREN_RE.finditer(text):
            sf = m.group(1)
            if sf not in defs and _short_form_ok(sf):
                lf = long_form(sf, text[max(0, m.start() - 200):m.start()])
                if lf:
                    defs[sf] = lf
        lm = _LIST_RE.search(text)
        if lm:
            for part in re.split(r";\s*", lm.group(1)):
                sf, _, lf = part.partition(",")
                sf, lf = sf.strip(), lf.strip().rstrip(".")
                if sf not in defs and _WORD_RE.fullmatch(sf) and _short_form_ok(sf) and 0 < len(lf) <= 80:
                    defs[sf] = lf
    return defs


def used_in(text: str, defs: dict[str, str], most: int = 8) -> list[tuple[str, str]]:
    """The defined abbreviations ``text`` (table rows, one per line) uses, whose long form it does not already
    spell out: first those that label a row (its first cell), then the others, each in order of first use, at
    most ``most``."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    low = text.lower()
    labels = " ".join(row.split(" | ")[0] for row in text.split("\n"))
    for m in [*_WORD_RE.finditer(labels), *_WORD_RE.finditer(text)]:
        sf = m.group(0)
        if sf in defs and sf not in seen and defs[sf].lower() not in low:
            seen.add(sf)
            out.append((sf, defs[sf]))
            if len(out) == most:
                break
    return out
