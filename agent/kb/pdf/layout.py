"""Lines of a PDF page in reading order, from pypdfium2's characters and their positions.

Characters become words (pdfium's own spaces, line breaks and large gaps split them), words become rows of
one baseline, and rows become lines of one column. A page has two columns when a vertical gutter near its
middle is crossed by (almost) no words; rows that do span the gutter (title, abstract, a wide figure caption)
are full-width and cut the page into bands, each band read left column first, then right column. Rotated
text (margin watermarks) is dropped unless most of the page is rotated.
"""

from __future__ import annotations

import ctypes
import math
import statistics
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

LIGATURES = {
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st",
    "\u00ad": "-", "\ufffe": "-", "\x02": "-", "\u2010": "-", "\u2011": "-", "\u00a0": " ", "\u2009": " ", "\u200b": "",
}
CELL_SEP = " | "  # words on one row separated by a wide gap (table cells)


@dataclass
class Box:
    """Text and where it sits on the page (points, top-down), with its type size."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass
class Word(Box):
    bold: bool = False
    base: float = 0.0  # the baseline (points, top-down): words of one printed line share it

    @property
    def center(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass
class Line(Box):
    page: int
    column: str = "full"  # "full", "left" or "right"
    bold: bool = False


@dataclass
class Page:
    number: int
    width: float
    height: float
    lines: list[Line] = field(default_factory=list)
    two_columns: bool = False


def _chars(textpage, height: float):
    """(char, x0, x1, top, bottom, size, bold, upright, baseline) per character; generated spaces too."""
    raw = textpage.raw
    n = pdfium_c.FPDFText_CountChars(raw)
    ox, oy = ctypes.c_double(), ctypes.c_double()
    for i in range(n):
        ch = chr(pdfium_c.FPDFText_GetUnicode(raw, i))
        if pdfium_c.FPDFText_IsGenerated(raw, i) and ch == " ":
            yield ("\x00", 0, 0, 0, 0, 0, False, True, 0)  # pdfium's guessed space: kept only if there is a gap
            continue
        if ch in " \r\n\t":
            yield (" ", 0, 0, 0, 0, 0, False, True, 0)
            continue
        _tl, bottom, _tr, top = textpage.get_charbox(i)
        left, lb, right, lt = textpage.get_charbox(i, loose=True)  # the font's box: its height is the type size
        angle = pdfium_c.FPDFText_GetCharAngle(raw, i)
        upright = angle < 0 or min(abs(angle), abs(angle - 2 * math.pi)) < 0.1
        size = round(abs(lt - lb), 1) if upright else round(abs(right - left), 1)
        weight = pdfium_c.FPDFText_GetFontWeight(raw, i)
        base = height - oy.value if pdfium_c.FPDFText_GetCharOrigin(raw, i, ctypes.byref(ox), ctypes.byref(oy)) \
            else height - bottom
        yield (ch, left, right, height - top, height - bottom, size, weight >= 600, upright, base)


def _words(textpage, height: float) -> list[Word]:
    words: list[Word] = []
    rotated: list[Word] = []
    cur: list[tuple] = []

    def flush():
        if not cur:
            return
        text = "".join(LIGATURES.get(c[0], "•" if "\ue000" <= c[0] <= "\uf8ff" else c[0]) for c in cur).strip()
        if text:
            # the word's baseline is the one most of its characters sit on ("16°C", "2To"), its size theirs
            base = statistics.mode(round(c[8] * 2) / 2 for c in cur)
            sizes = [c[5] for c in cur if c[5] > 0 and abs(c[8] - base) <= 0.5] or [c[5] for c in cur if c[5] > 0]
            w = Word(text, min(c[1] for c in cur), max(c[2] for c in cur), min(c[3] for c in cur),
                     max(c[4] for c in cur), statistics.median(sizes) if sizes else 0.0,
                     sum(c[6] for c in cur) > len(cur) / 2, base)
            (words if cur[0][7] else rotated).append(w)
        cur.clear()

    guessed = False
    for c in _chars(textpage, height):
        if c[0] == "\x00":
            guessed = True
            continue
        if c[0] in " \n":
            flush()
            continue
        if cur:
            prev = cur[-1]
            size = max(c[5], prev[5], 1.0)
            gap = c[1] - prev[2]
            superscript = c[5] < 0.85 * prev[5] and prev[8] - c[8] > 0.2 * prev[5]  # "Bashor" + "a,1"
            if c[7] != prev[7] or abs((c[3] + c[4]) - (prev[3] + prev[4])) / 2 > 0.6 * size or superscript \
                    or gap > 0.2 * size or (guessed and gap > 0.04 * size) or c[2] < prev[1] - 0.5 * size:
                flush()
        guessed = False
        cur.append(c)
    flush()
    if rotated and len(rotated) > len(words):  # a landscape page: read in pdfium's text order instead
        return []
    return words


def _candidate_gutter(words: list[Word], width: float) -> float | None:
    """x near the page middle crossed by the fewest characters (the middle of the widest such run)."""
    lo, hi = int(width * 0.2), int(width * 0.8)
    if hi - lo < 10:
        return None
    cross = [0] * (hi - lo)
    for w in words:
        for x in range(max(lo, int(w.x0) + 1), min(hi, int(math.ceil(w.x1)))):
            cross[x - lo] += len(w.text)
    best = min(cross)
    runs, start = [], None
    for i, v in enumerate(cross + [best + 1]):
        if v == best and start is None:
            start = i
        elif v != best and start is not None:
            runs.append((lo + start, lo + i - 1))
            start = None
    center = width / 2
    a, b = min(runs, key=lambda r: 0 if r[0] <= center <= r[1] else min(abs(r[0] - center), abs(r[1] - center)))
    return (a + b) / 2


def _attach_drop_caps(words: list[Word]) -> list[Word]:
    """A paragraph's initial set large over two or three lines (PNAS: "C" + "ross-species") is glued to the
    first word of the first line it stands beside."""
    if not words:
        return words
    body = statistics.median(w.size for w in words)
    out = []
    for cap in words:
        if len(cap.text) == 1 and cap.text.isupper() and cap.size >= 1.8 * body:
            nxt = [w for w in words if w is not cap and -0.25 * w.size <= w.x0 - cap.x1 <= 2 * w.size
                   and cap.top - 0.5 * w.size <= w.top <= cap.top + w.size and w.size < 0.7 * cap.size]
            if nxt:
                first = min(nxt, key=lambda w: (w.top, w.x0))
                first.text, first.x0 = cap.text + first.text, cap.x0
                continue
        out.append(cap)
    return out


def _rows(words: list[Word]) -> list[list[Word]]:
    """Words grouped into printed lines, each row sorted by x: words of one type size that share a baseline
    (within a third of the size; the last few rows are candidates, as lines of two columns with offset
    baselines interleave), then rows of smaller type (superscripts, subscripts) joined to the nearest line
    whose box holds their baseline."""
    words = _attach_drop_caps(words)
    rows: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (w.base, w.x0)):
        best, best_d = None, None
        for row in rows[-4:]:
            d = abs(w.base - statistics.median(x.base for x in row))
            big = max(max(x.size for x in row), w.size, 1.0)
            same_size = min(w.size, max(x.size for x in row)) >= 0.85 * big
            top, base = statistics.median(x.top for x in row), statistics.median(x.base for x in row)
            overlap = (min(base, w.base) - max(top, w.top)) / max(min(base - top, w.base - w.top), 0.1)  # x-heights
            if (d <= 0.15 * big or (d <= 0.33 * big and (same_size or overlap >= 0.7))) \
                    and (best_d is None or d < best_d):
                best, best_d = row, d
        if best is not None:
            best.append(w)
        else:
            rows.append([w])
    # (size, baseline, top, x0, x1) of each row; a word set in another size moves to a bigger row nearby
    info = [(max(x.size for x in r), statistics.median(x.base for x in r), min(x.top for x in r),
             min(x.x0 for x in r), max(x.x1 for x in r)) for r in rows]
    out = [list(r) for r in rows]
    for i, r in enumerate(rows):
        for w in r:
            best, best_d = None, None
            for j in range(max(0, i - 4), min(len(rows), i + 5)):
                s2, b2, t2, a2, z2 = info[j]
                same_base = abs(w.base - b2) <= 0.33 * s2
                script = w.size < s2 and t2 - 0.1 * s2 <= w.base <= b2 + 0.4 * s2
                if j == i or len(rows[j]) <= len(r) or 0.85 * s2 <= w.size <= s2 / 0.85 \
                        or not (same_base or script) or w.x0 < a2 - 2 * s2 or w.x1 > z2 + 2 * s2:
                    continue
                if best_d is None or abs(w.base - b2) < best_d:
                    best, best_d = j, abs(w.base - b2)
            if best is not None:  # a superscript, subscript or symbol of another font size joins its line
                out[i].remove(w)
                out[best].append(w)
    return [sorted(r, key=lambda w: w.x0) for r in out if r]


def _line(row: list[Word], page: int, column: str) -> Line:
    sizes = sorted(w.size for w in row)
    body = statistics.median(sizes) if sizes else 0.0
    parts: list[str] = []
    for i, w in enumerate(row):
        if i:
            gap = w.x0 - row[i - 1].x1
            parts.append(CELL_SEP if gap > 2.5 * max(body, 1.0) else " ")
        parts.append(w.text)
    return Line("".join(parts), row[0].x0, max(w.x1 for w in row), min(w.top for w in row),
                max(w.bottom for w in row), body, page, column, sum(w.bold for w in row) > len(row) / 2)


def _split_row(row: list[Word], gx: float, width: float) -> tuple[list[Word], list[Word], list[Word]]:
    """(left words, right words, full-width words) of one row with the gutter at gx."""
    size = max(statistics.median(w.size for w in row), 1.0)
    left = [w for w in row if w.x1 <= gx]
    right = [w for w in row if w.x0 >= gx]
    if len(left) + len(right) == len(row):
        if not left or not right or right[0].x0 - left[-1].x1 >= 0.9 * size:
            return left, right, []
        return [], [], row
    x0, x1 = row[0].x0, max(w.x1 for w in row)
    if x0 < gx - 0.1 * width and x1 > gx + 0.1 * width:
        return [], [], row
    mid = (x0 + x1) / 2  # a line that only pokes into the gutter stays in its column
    return (row, [], []) if mid < gx else ([], row, [])


def _cells(row: list[Word]) -> bool:
    """Does the row have a gap as wide as a table's between two cells (what _line marks with CELL_SEP)?"""
    body = statistics.median(w.size for w in row)
    return any(b.x0 - a.x1 > 2.5 * max(body, 1.0) for a, b in zip(row, row[1:]))


def page_lines(words: list[Word], width: float, number: int) -> tuple[list[Line], bool]:
    """The page's lines in reading order and whether it was read as two columns."""
    rows = _rows(words)
    gx = _candidate_gutter(words, width)
    if gx is not None:
        total = sum(len(w.text) for w in words) or 1
        parts = [_split_row(r, gx, width) for r in rows]
        # a table printed across both columns: its rows have cell gaps on both sides of the gutter
        spanning = [i for i, p in enumerate(parts) if p[0] and p[1] and _cells(p[0]) and _cells(p[1])]
        if len(spanning) >= 3:
            for i in spanning:
                parts[i] = ([], [], rows[i])
        lchars = sum(len(w.text) for p in parts for w in p[0])
        rchars = sum(len(w.text) for p in parts for w in p[1])
        xchars = sum(len(w.text) for p in parts for w in p[2])
        narrow_ok = xchars <= 0.3 * total  # few lines cross the gutter: a margin column may be narrow
        if min(lchars, rchars) < (0.05 if narrow_ok else 0.15) * total:
            gx = None
    if gx is None:
        return [_line(r, number, "full") for r in rows], False
    full_lines = [_line(p[2], number, "full") for p in parts if p[2]]
    lls = [_line(p[0], number, "left") for p in parts if p[0]]
    rls = [_line(p[1], number, "right") for p in parts if p[1]]
    # full-width lines cut the page into bands; each band is read left column first, then right column
    out: list[Line] = []
    prev = -1e9
    for brk in full_lines + [None]:
        stop = brk.top if brk is not None else 1e9
        out.extend(ln for ln in lls if prev <= ln.top < stop)
        out.extend(ln for ln in rls if prev <= ln.top < stop)
        if brk is not None:
            out.append(brk)
            prev = brk.top
    return out, True


def _plain_lines(text: str, number: int, height: float) -> list[Line]:
    rows = [" ".join(r.split()) for r in text.splitlines()]
    rows = [r for r in rows if r]
    step = 0.8 * height / max(len(rows), 1)
    return [Line(r, 0.0, 0.0, 0.1 * height + i * step, 0.1 * height + i * step + 1, 10.0, number)
            for i, r in enumerate(rows)]


def read_pages(path: str) -> tuple[list[Page], dict[str, str], list[str]]:
    """Every page's lines in reading order, the PDF's metadata dictionary, and per-page warnings."""
    doc = pdfium.PdfDocument(path)
    pages: list[Page] = []
    warnings: list[str] = []
    try:
        meta = {k: str(v) for k, v in (doc.get_metadata_dict() or {}).items() if v}
        for i in range(len(doc)):
            try:
                page = doc[i]
                width, height = page.get_size()
                tp = page.get_textpage()
                words = _words(tp, height)
                if words:
                    lines, two = page_lines(words, width, i + 1)
                else:  # rotated (landscape) page or no positioned text: pdfium's own text order, line by line
                    lines, two = _plain_lines(tp.get_text_range(), i + 1, height), False
                if not lines:
                    warnings.append(f"page {i + 1} has no extractable text and was skipped "
                                    "(damaged content, or an image-only page)")
                pages.append(Page(i + 1, width, height, lines, two))
                tp.close()
                page.close()
            except Exception as exc:  # one bad page: skip it, keep the document
                warnings.append(f"page {i + 1} could not be read and was skipped ({type(exc).__name__}: {exc})")
    finally:
        doc.close()
    if not any(p.lines for p in pages):
        warnings = [w for w in warnings if "no extractable text" not in w]
    return pages, meta, warnings
