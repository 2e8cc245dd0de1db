"""Split an answer into claims (sentences), each with the citation ids it carries and its place in the text.

Sentences end with ``. ! ?`` followed by white space (or the end of the line), or with ``。！？`` (no space
needed); a period does not end a sentence after an abbreviation (``e.g.``, ``i.e.``, ``Fig.``, ``et al.``,
``vs.``, ...), after a single capital letter (``E. coli``) or inside a number (``3.5``). Every line break ends a
sentence, and a list marker (``-``, ``*``, ``1.``) at the start of a line is not part of the claim. Citations
right after the end of a sentence (``... increased. [P1]``) belong to that sentence. Citation ids are read with
:func:`agent.citations.cited_ids`, the format the answer checker uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.citations import _BRACKET_RE, cited_ids

_ABBREV = {"e.g", "i.e", "fig", "figs", "al", "vs", "cf", "ca", "approx", "no", "nos", "dr", "mr", "mrs", "ms",
           "prof", "resp", "ref", "refs", "eq", "eqs", "suppl", "sp", "spp", "var", "st", "vol", "pp", "p", "ed",
           "eds", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s",
           "incl", "min", "max", "mol", "wt", "aa", "nt", "bp"}
_END_RE = re.compile(r"[.!?]+(?=[\s\"'”’)\]]*(?:\s|$))|[。！？]+")
_LIST_RE = re.compile(r"^\s*(?:[-*•·]|\d{1,3}[.)]|[a-z][.)])\s+")
_LEAD_CITES_RE = re.compile(r"^\s*(?:" + _BRACKET_RE.pattern + r"\s*)+[.;,。]?")
# Chinese full-width brackets are normalised to ASCII ones before citation ids are read.
_FULLWIDTH = str.maketrans({"［": "[", "］": "]", "【": "[", "】": "]", "，": ",", "；": ";"})


@dataclass
class Claim:
    """One sentence of an answer. ``start``/``end`` are character offsets into the original answer."""

    text: str  # the sentence as written (citations included, list marker excluded)
    citations: list[str] = field(default_factory=list)
    start: int = 0
    end: int = 0

    @property
    def bare(self) -> str:
        """The sentence without its citation brackets (what is scored)."""
        return strip_citations(self.text)


def strip_citations(text: str) -> str:
    t = _BRACKET_RE.sub("", text.translate(_FULLWIDTH))
    t = re.sub(r"\s+([.,;:!?。，；：！？])", r"\1", t)
    return re.sub(r"\s{2,}", " ", t).strip()


def claim_citations(text: str) -> list[str]:
    """Citation ids of a sentence (``[P1]``, ``[P1, T2]``, ``【P1】``, ``[P1；P2]``)."""
    return cited_ids(text.translate(_FULLWIDTH))


def _is_abbreviation(line: str, dot: int) -> bool:
    """Whether the period at ``line[dot]`` closes an abbreviation or an initial rather than a sentence."""
    m = re.search(r"([A-Za-z][A-Za-z.]*)$", line[:dot])
    if not m:
        return False
    word = m.group(1)
    if word.lower().rstrip(".") in _ABBREV or word.lower() in _ABBREV:
        return True
    if len(word) == 1 and word.isupper():  # an initial: "E. coli", "J. Smith"
        return True
    # "al." in "et al." and a following lower-case word: the sentence goes on
    nxt = line[dot + 1:].lstrip()
    return bool(nxt) and nxt[0].islower() and len(word) <= 4 and word.islower()


def _line_spans(line: str) -> list[tuple[int, int]]:
    """Sentence spans inside one line (offsets into the line)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END_RE.finditer(line):
        end = m.end()
        if m.group(0) == "." and _is_abbreviation(line, m.start()):
            continue
        # citations after the end mark stay with this sentence
        lead = _LEAD_CITES_RE.match(line[end:])
        if lead:
            end += lead.end()
        if line[start:end].strip():
            spans.append((start, end))
        start = end
    if line[start:].strip():
        spans.append((start, len(line)))
    return spans


def split_claims(text: str) -> list[Claim]:
    """The answer's sentences with their citations and offsets, in order."""
    out: list[Claim] = []
    pos = 0
    for line in (text or "").split("\n"):
        base = pos
        pos += len(line) + 1
        marker = _LIST_RE.match(line)
        offset = marker.end() if marker else 0
        for s, e in _line_spans(line[offset:]):
            seg = line[offset + s: offset + e]
            lstrip = len(seg) - len(seg.lstrip())
            body = seg.strip()
            if not body:
                continue
            if out and not strip_citations(body).strip(" .;,。") and out[-1].end >= base - 1:
                # only citations left on this piece (e.g. "[P1]." at the start of a line): previous sentence's
                prev = out[-1]
                prev.end = base + offset + s + lstrip + len(body)
                prev.text = text[prev.start:prev.end]
                prev.citations = claim_citations(prev.text)
                continue
            start = base + offset + s + lstrip
            out.append(Claim(body, claim_citations(body), start, start + len(body)))
    return out
