"""The reference list of a paper: entries split from its lines, and in-text citations resolved against them.

Entries start at a number ("12.", "[12]", "12 ") or, in author-year lists, at a line that begins at the
column's left edge while continuation lines are indented (hanging indent), or after a line that ends an entry
(a period) when the next begins like "Surname, X" / "Surname X". A numbered list printed without a heading
(PNAS) is found by ``find_reference_lines``: runs of lines in one type size where numbered entries that begin
with author names and carry a year plus a journal/volume pattern, "et al.", a DOI or a URL follow each other.
Citations understood: numeric ``[12]``,
``[3, 5-7]`` and author-year ``(Smith et al., 2019)``, ``Smith and Jones (2019)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.kb.pdf.layout import Line

_NUM_RE = re.compile(r"^\s*(\[(\d{1,3})\]|(\d{1,3})\.(?!\d)|(\d{1,3})\s(?=[A-Z]))\s*")
_AUTHOR_START_RE = re.compile(r"^[A-Z][A-Za-z'’\-]+(,|\s)\s*([A-Z]\.?\s?){1,3}[,.\s]|^[A-Z][a-z]+ [A-Z]{1,3}[,\s]")
_YEAR_RE = re.compile(r"\b(19[5-9]\d|20[0-4]\d)[a-z]?\b")
_NUMERIC_CITE_RE = re.compile(r"\[(\d{1,3}(?:\s*[-–,]\s*\d{1,3})*)\]")
_AUTHOR_CITE_RE = re.compile(
    r"(?P<name>[A-Z][A-Za-z'’\-]+)(?:\s+et\s+al\.?|\s+(?:and|&)\s+[A-Z][A-Za-z'’\-]+)?,?\s*\(?(?P<year>(?:19|20)\d\d)[a-z]?\)?")


# a numbered entry that begins with an author: "12. H. Fernandez-Bellon", "[3] Smith AB,", "4 Smith, J.", "5. Wu F et al"
_ENTRY_START_RE = re.compile(
    r"^\s*(?:\[\d{1,3}\]|\d{1,3}\.?)\s+(?:"
    r"(?:[A-Z]\.\s?(?:-?[A-Z]\.\s?)*)\s*(?:(?:van|von|de|der|den|da|di|du|la|le)\s+)*[A-Z][A-Za-z'’\-]+"
    r"|(?:(?:van|von|de|der|den|da|di|du|la|le)\s+)*[A-Z][A-Za-z'’\-]+(?:\s[A-Z][A-Za-z'’\-]+)?,?\s+(?:[A-Z]\.?\s?){1,3}[,.;\s]"
    r"|[A-Z][A-Za-z'’\-]+\s+(?:et\s+al|and\s|&)"
    r"|[A-Z][A-Za-z'’\-]+(?:\s[A-Z][A-Za-z'’\-]+){2,}[,.]"  # an organisation as author
    r")")
# what an entry carries besides its year: a volume/pages pattern ("13, 1683", "25:27-38", "117(4):12"),
# "et al.", a DOI, a URL or "Accessed"
_ENTRY_MARK_RE = re.compile(
    r"\b\d{1,4}\s*(?:\(\d{1,4}\))?\s*[,:]\s*e?\d{1,7}(?:\s*[–-]\s*\d{1,7})?\b|\bet\s+al\b|"
    r"\b10\.\d{4,9}/|https?://|\bAccessed\b|\b(?:19|20)\d\d\s*;", re.I)


def looks_like_entry(text: str) -> bool:
    """Does this text read like one reference entry (a year and a journal/volume pattern, et al., DOI or URL)?"""
    return bool(_YEAR_RE.search(text)) and bool(_ENTRY_MARK_RE.search(text))


def find_reference_lines(lines: list[Line], min_entries: int = 3) -> set[int]:
    """ids of the lines that form a numbered reference list, with or without a heading.

    Lines (reading order) are cut into runs of one page and one type size (within 0.3 pt); a run holding at
    least ``min_entries`` numbered entries that begin with an author, most of which look like references
    (``looks_like_entry``), is a reference list from its first entry on. A short run of the same size before
    the entries (an entry's tail continued at the top of a column) joins when the run before was a list too.
    """
    runs: list[list[Line]] = []
    for ln in lines:
        if runs and runs[-1][-1].page == ln.page and abs(runs[-1][0].size - ln.size) <= 0.3:
            runs[-1].append(ln)
        else:
            runs.append([ln])
    out: set[int] = set()
    prev_size: float | None = None
    for run in runs:
        starts = [i for i, ln in enumerate(run) if _ENTRY_START_RE.match(ln.text)]
        if len(starts) < min_entries:
            if prev_size is None or abs(run[0].size - prev_size) > 0.3 or len(run) > 4 \
                    or not looks_like_entry(" ".join(ln.text for ln in run)):
                prev_size = None
            else:  # an entry's tail continued in the next column or on the next page
                out.update(id(ln) for ln in run)
            continue
        bounds = starts + [len(run)]
        entries = [run[a:b] for a, b in zip(bounds, bounds[1:])]
        like = [looks_like_entry(" ".join(ln.text for ln in e)) for e in entries]
        if sum(like) < max(min_entries, 0.6 * len(entries)):
            prev_size = None
            continue
        last = max(i for i, ok in enumerate(like) if ok)
        end = bounds[last + 1]
        if last == len(entries) - 1:  # the run's last entry ends at the line that completes it, not at the run's end
            for j in range(bounds[last], end):
                if looks_like_entry(" ".join(ln.text for ln in run[bounds[last]:j + 1])) \
                        and run[j].text.rstrip().endswith("."):
                    end = j + 1
                    break
        first = 0 if prev_size is not None and abs(run[0].size - prev_size) <= 0.3 and starts[0] <= 4 else starts[0]
        out.update(id(ln) for ln in run[first:end])
        prev_size = run[0].size
    return out


@dataclass
class Reference:
    text: str
    page: int
    number: int | None = None

    @property
    def first_author(self) -> str | None:
        body = _NUM_RE.sub("", self.text, count=1)
        m = re.match(r"([A-Z][A-Za-z'’\-]+)", body)
        return m.group(1) if m else None

    @property
    def year(self) -> int | None:
        m = _YEAR_RE.search(self.text)
        return int(m.group(1)) if m else None


def split_entries(lines: list[Line]) -> list[Reference]:
    """Reference entries from the lines of the reference list (in reading order)."""
    if not lines:
        return []
    numbered = sum(1 for ln in lines if _NUM_RE.match(ln.text)) >= max(2, len(lines) // 6)
    margins: dict[tuple[int, str], float] = {}
    for ln in lines:
        key = (ln.page, ln.column)
        margins[key] = min(margins.get(key, ln.x0), ln.x0)
    indented = sum(1 for ln in lines if ln.x0 > margins[(ln.page, ln.column)] + 4) >= len(lines) // 4
    entries: list[list[Line]] = []
    for i, ln in enumerate(lines):
        text = ln.text.strip()
        prev = lines[i - 1] if i else None
        if numbered:
            start = bool(_NUM_RE.match(text))
        elif indented:
            start = ln.x0 <= margins[(ln.page, ln.column)] + 2
        else:
            start = prev is None or (prev.text.rstrip().endswith(".") and bool(_AUTHOR_START_RE.match(text)))
        if start or not entries:
            entries.append([ln])
        else:
            entries[-1].append(ln)
    from agent.kb.pdf.clean import join_lines

    out: list[Reference] = []
    for group in entries:
        text = join_lines([ln.text for ln in group], set())
        m = _NUM_RE.match(text)
        num = next((int(g) for g in (m.groups()[1:] if m else ()) if g), None)
        out.append(Reference(text, group[0].page, num))
    return out


def _expand(spec: str) -> list[int]:
    nums: list[int] = []
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:[-–]\s*(\d+))?\s*", part)
        if not m:
            continue
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if 0 < lo <= hi and hi - lo < 50:
            nums.extend(range(lo, hi + 1))
    return nums


def resolve_citations(text: str, refs: list[Reference]) -> list[dict]:
    """The references a passage cites: [{"marker", "number", "reference"}] in order of first mention."""
    by_num = {r.number: r for r in refs if r.number is not None}
    out: list[dict] = []
    seen: set[int] = set()
    if by_num:
        for m in _NUMERIC_CITE_RE.finditer(text):
            for n in _expand(m.group(1)):
                if n in by_num and n not in seen:
                    seen.add(n)
                    out.append({"marker": m.group(0), "number": n, "reference": by_num[n].text})
        return out
    for m in _AUTHOR_CITE_RE.finditer(text):
        name, year = m.group("name"), int(m.group("year"))
        for i, r in enumerate(refs):
            if i not in seen and r.first_author == name and r.year == year:
                seen.add(i)
                out.append({"marker": m.group(0), "number": None, "reference": r.text})
                break
    return out


def stored_references(kb, doc_id: str) -> list[Reference]:
    """The reference entries stored with a document (its ``chunk_kind: reference`` passages), in order, deduplicated."""
    from agent.kb.store import StoreFilter

    if not kb.store.exists():
        return []
    flt = StoreFilter(match={"doc_id": [doc_id], "kind": ["chunk"], "chunk_kind": ["reference"]})
    recs, offset = [], None
    while True:
        batch, offset = kb.store.scroll(flt, limit=256, offset=offset)
        recs.extend(batch)
        if offset is None:
            break
    out: list[Reference] = []
    seen: set[str] = set()
    for r in sorted(recs, key=lambda r: r.payload.get("chunk_index", 0)):
        for part in str(r.payload.get("text", "")).split("\n\n"):
            part = part.strip()
            if part and part not in seen:
                seen.add(part)
                m = _NUM_RE.match(part)
                num = next((int(g) for g in (m.groups()[1:] if m else ()) if g), None)
                out.append(Reference(part, r.payload.get("page") or 0, num))
    return out


def cited_references(kb, hit) -> list[dict]:
    """The reference entries a retrieved passage cites ([12], [3-5], (Smith et al., 2019)), resolved against the
    reference list stored with its document; [] when the document has none."""
    return resolve_citations(hit.text, stored_references(kb, hit.doc_id))
