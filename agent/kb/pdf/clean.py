"""From lines in reading order to clean blocks: page furniture removed, hyphens rejoined, paragraphs, headings,
figure/table captions, table rows and the reference list told apart.

- Running headers/footers: a line (digits ignored) repeated on many pages, in the top or bottom margin or on
  most pages; page numbers in the margins; watermark lines ("Downloaded from ...", "protected by copyright").
- Line-break hyphens: "infec-" + "tion" -> "infection", unless the hyphen is real: the hyphenated form is used
  elsewhere in the paper, the joined form is not, or the word looks like a compound/identifier ("stem-loop",
  "ESM-2", "SARS-CoV-2", "cell-based").
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass

from agent.kb.pdf.layout import CELL_SEP, Line, Page
from agent.kb.pdf.references import find_reference_lines

WATERMARK_RE = re.compile(
    r"downloaded\s+from\b|this article is protected by copyright|for personal use only|"
    r"^all rights reserved\.?$|^(https?://|www\.)\S+$|^\s*provided by\b.*\bdigital repository",
    re.I,
)
PAGE_NUMBER_RE = re.compile(r"^(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?$|^\d{1,4}\s*\|.*$|^.*\|\s*\d{1,4}$", re.I)
_HEADINGS = (
    r"abstract|summary|background|introduction|methods?|materials?(\s+and|\s*&)\s+methods|methodology|"
    r"experimental(\s+procedures|\s+section)?|results?|discussion|results\s+and\s+discussion|conclusions?|"
    r"concluding\s+remarks|acknowledge?ments?|funding|competing\s+interests?|conflicts?\s+of\s+interest|"
    r"authors?['’]?\s+contributions?|abbreviations|declarations|data\s+availability|limitations|"
    r"additional\s+information(\s+and\s+declarations)?|supplementary\s+(material|information|data)|"
    r"supporting\s+information|ethics(\s+statement)?|patients\s+and\s+methods|study\s+design"
)
HEADING_RE = re.compile(rf"^(\d+(\.\d+)*\.?\s+)?({_HEADINGS})\s*:?$", re.I)
REF_HEADING_RE = re.compile(
    r"^(\d+\.?\s+)?(references?|bibliography|literature\s+cited|references\s+and\s+notes|works\s+cited|"
    r"reference\s+list|cited\s+literature)\s*:?$", re.I)
AFTER_REFS_RE = re.compile(r"^(appendix|appendices|supplementary( online)?( data| material| information)?$|"
                           r"supporting information|figure legends|"
                           r"tables?$|additional files?)", re.I)
NUMBERED_HEADING_RE = re.compile(r"^\d{1,2}(\.\d{1,2})*\.?\s+[A-Z][A-Za-z ,'’&/-]{2,70}$")
CITE_AS_RE = re.compile(r"^(cite this article as|please cite this article|citation:)", re.I)
CAPTION_RE = re.compile(
    r"^(?P<label>(supplementary\s+|suppl\.\s+)?(figure|fig\.?|table|scheme|box|chart)\s*S?\d+[A-Za-z]?)"
    r"(\s*[.:|—–-]\s*|\s+(?=[A-Z(]))", re.I)
COMPOUND_TAILS = {
    "based", "like", "type", "loop", "specific", "dependent", "independent", "associated", "induced", "related",
    "derived", "mediated", "free", "wide", "term", "scale", "fold", "length", "rich", "binding", "containing",
    "positive", "negative", "resistant", "sensitive", "infected", "treated", "coated", "level", "stranded",
    "terminal", "selective", "bound", "linked", "labeled", "labelled", "old", "sectional", "up", "out", "known",
    "borne", "access",
}
COMPOUND_HEADS = {"non", "self", "well", "cross", "wild", "full", "half", "long", "short", "high", "low"}


@dataclass
class Block:
    kind: str  # "body", "caption", "table" or "reference"
    text: str
    page: int
    section: str | None = None
    head: str | None = None  # a table's caption and column headers, repeated atop each of its chunks


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", text.lower())).strip()


def remove_furniture(pages: list[Page]) -> int:
    """Drop running headers/footers, page numbers and watermark lines in place; returns how many went."""
    n = len(pages)
    seen: dict[str, set[int]] = defaultdict(set)
    for p in pages:
        for ln in p.lines:
            seen[_norm(ln.text)].add(p.number)
    removed = 0
    for p in pages:
        keep: list[Line] = []
        for ln in p.lines:
            text = ln.text.strip()
            margin = ln.bottom < 0.1 * p.height or ln.top > 0.9 * p.height
            count = len(seen[_norm(text)])
            letters = sum(c.isalpha() for c in text)
            repeated = n >= 2 and count >= max(2, 0.3 * n) and (margin or (count >= 0.6 * n and letters >= 3))
            if repeated or WATERMARK_RE.search(text) or (margin and PAGE_NUMBER_RE.match(text)) \
                    or not any(c.isalnum() for c in text):
                removed += 1
                continue
            keep.append(ln)
        p.lines = keep
    return removed


def vocabulary(pages: list[Page]) -> set[str]:
    """Every word of the paper as printed (lower case, hyphenated forms included)."""
    vocab: set[str] = set()
    for p in pages:
        for ln in p.lines:
            vocab.update(w.lower() for w in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*(?!-\s*$)", ln.text))
    for w in list(vocab):
        vocab.update(w.split("-"))
    return vocab


def keep_hyphen(left: str, right: str, vocab: set[str]) -> bool:
    """Is the hyphen between a line's last word part `left` and the next line's `right` a real one?"""
    joined, hyph = (left + right).lower(), f"{left}-{right}".lower()
    if joined in vocab and hyph not in vocab:
        return False
    if hyph in vocab and joined not in vocab:
        return True
    if any(c.isdigit() for c in left) or any(c.isupper() for c in left[1:]):
        return True
    return right.lower() in COMPOUND_TAILS or left.lower() in COMPOUND_HEADS


def join_lines(lines: list[str], vocab: set[str]) -> str:
    """Lines of one paragraph as running text, line-break hyphens resolved."""
    out = ""
    for nxt in (ln.strip() for ln in lines):
        if not nxt:
            continue
        if not out:
            out = nxt
            continue
        m = re.search(r"([A-Za-z0-9]+)-$", out)
        if m and re.match(r"[a-z]", nxt):
            right = re.match(r"[A-Za-z]+", nxt).group(0)
            out = out + nxt if keep_hyphen(m.group(1), right, vocab) else out[:-1] + nxt
        elif m and re.match(r"[A-Z0-9]", nxt) and not re.search(r"\s-$", out):
            out += nxt  # "SARS-" + "CoV-2", "ESM-" + "2"
        else:
            out += " " + nxt
    return out


def is_heading(ln: Line, body_size: float) -> bool:
    text = ln.text.strip()
    if REF_HEADING_RE.match(text) or HEADING_RE.match(text):
        return True
    words = text.split()
    if ln.size > 1.4 * body_size or len(words) > 9 or text.endswith((".", ",", ";")) or CELL_SEP in text \
            or text.count(",") >= 2:
        return False  # title-sized type, running text, or a list (a bold line of author names)
    if NUMBERED_HEADING_RE.match(text) and ln.size >= body_size - 0.3:
        return True
    return (ln.bold and 1 <= len(words) <= 8 and len(text) <= 70 and text[0].isupper()
            and not text.endswith((".", ",", ";")) and ln.size >= body_size - 0.3 and CELL_SEP not in text
            and not CAPTION_RE.match(text) and sum(c.isalpha() for c in text) >= 0.6 * len(text.replace(" ", "")))


class _Builder:
    """Walks lines in reading order and cuts them into blocks."""

    def __init__(self, vocab: set[str], body_size: float):
        self.vocab = vocab
        self.body = body_size
        self.blocks: list[Block] = []
        self.section: str | None = None
        self.kind = "body"
        self.lines: list[Line] = []
        self.label: str | None = None
        self.table_label: str | None = None

    def flush(self) -> None:
        if self.kind == "table" and len(self.lines) < 3:  # one or two wide-spaced lines: justified text
            self.kind = "body"
            for ln in self.lines:
                ln.text = ln.text.replace(CELL_SEP, " ")
        if self.lines:
            text = join_lines([ln.text for ln in self.lines], self.vocab) if self.kind != "table" \
                else "\n".join(ln.text.strip() for ln in self.lines)
            section = self.label if self.kind in ("caption", "table") and self.label else self.section
            if text.strip():
                self.blocks.append(Block(self.kind, text.strip(), self.lines[0].page, section))
        self.lines, self.kind, self.label = [], "body", None

    def start(self, kind: str, ln: Line, label: str | None = None) -> None:
        self.flush()
        self.kind, self.lines, self.label = kind, [ln], label

    def add(self, ln: Line) -> None:
        text = ln.text.strip()
        prev = self.lines[-1] if self.lines else None
        gap = ln.top - prev.bottom if prev else 0.0
        near = prev is not None and prev.page == ln.page and prev.column == ln.column and -1 < gap < 0.9 * ln.size
        cap = CAPTION_RE.match(text)
        if cap:
            label = re.sub(r"\s+", " ", cap.group("label")).replace("Fig ", "Fig. ")
            if label.lower().startswith("table"):
                self.table_label = label
            self.start("caption", ln, label)
            return
        row = CELL_SEP in text
        if self.kind == "caption":
            if near and abs(ln.size - prev.size) <= 0.6 and len(self.lines) < 30 and not row:
                self.lines.append(ln)
                return
            self.flush()
        if self.kind == "table":
            if row or (near and ln.size < self.body - 0.4):
                self.lines.append(ln)
                return
            self.flush()
        if row:
            label = self.table_label  # the page's last table caption (reset on each page)
            self.start("table", ln, label)
            return
        if prev is not None:
            new_par = prev.page != ln.page or abs(ln.size - prev.size) > 1.0 or (
                prev.column == ln.column and (gap > 0.9 * ln.size or gap < -1)
                and re.search(r"[.!?:)\]]$", prev.text.strip()) is not None
            ) or (prev.column != ln.column and re.search(r"[.!?:]$", prev.text.strip()) is not None)
            if new_par:
                self.flush()
        self.lines.append(ln)


def build_blocks(pages: list[Page]) -> tuple[list[Block], list[Line]]:
    """(body/caption/table blocks in reading order, the lines of the reference list)."""
    all_lines = [ln for p in pages for ln in p.lines]
    sizes = [ln.size for ln in all_lines if len(ln.text) > 30]
    body = statistics.median(sizes) if sizes else 10.0
    vocab = vocabulary(pages)
    b = _Builder(vocab, body)
    refs: list[Line] = []
    listed = find_reference_lines(all_lines)  # a numbered list found by its entries, heading or not (PNAS)
    in_refs = False
    for p in pages:
        b.table_label = None
        for ln in p.lines:
            text = ln.text.strip()
            if id(ln) in listed and not CITE_AS_RE.match(text):  # body text around it reads on across the list
                refs.append(ln)
                continue
            in_table = b.kind == "caption" and (b.label or "").lower().startswith("tab")
            if is_heading(ln, body) and not (in_table and not HEADING_RE.match(text) and not REF_HEADING_RE.match(text)):
                # (a bold line right under a table caption is a column header, not a section heading)
                if REF_HEADING_RE.match(text):
                    b.flush()
                    in_refs = True
                    continue
                if in_refs and not AFTER_REFS_RE.match(text):
                    refs.append(ln)
                    continue
                in_refs = False
                b.flush()
                b.section = re.sub(r"^\d+(\.\d+)*\.?\s+", "", text).rstrip(":").strip() or b.section
                continue
            if in_refs and (AFTER_REFS_RE.match(text) or ln.size > 1.3 * body):  # e.g. supplementary data
                in_refs = False
            if in_refs and CITE_AS_RE.match(text):  # BMC: the paper's own DOI, then "Cite this article as"
                in_refs = False
                if refs and re.match(r"^doi:\s*10\.\S+$", refs[-1].text.strip(), re.I):
                    b.add(refs.pop())
            if in_refs:
                refs.append(ln)
                continue
            b.add(ln)
        b.flush()
    add_table_heads(b.blocks)
    return b.blocks, refs


_THRESHOLD_RE = re.compile(r"[<>≤≥]\s*\d+(\.\d+)?\s*%?")


def header_rows(rows: list[str], most: int = 3) -> int:
    """How many of a table's first rows are column headers: rows without numbers (a threshold such as ">10%"
    may stand in a header), followed by a row that has numbers; 0 when no such row follows."""
    n = 0
    for row in rows[:most + 1]:
        if any(c.isdigit() for c in _THRESHOLD_RE.sub("", row)):
            return n if 0 < n < len(rows) else 0
        n += 1
    return 0


def add_table_heads(blocks: list[Block]) -> None:
    """Each table block gets a head: its caption (what the numbers are about) and the column headers of its
    table (the first block of that caption on that page), so every chunk of rows says what its cells mean."""
    captions = {(blk.page, blk.section): blk.text for blk in blocks if blk.kind == "caption" and blk.section}
    headers: dict[tuple[int, str | None], str] = {}
    for blk in blocks:
        if blk.kind != "table":
            continue
        key = (blk.page, blk.section)
        rows = blk.text.split("\n")
        n = header_rows(rows)
        own = None
        if n and (key not in headers or blk.section is None):
            own = "\n".join(rows[:n])
            blk.text = "\n".join(rows[n:])
            if blk.section:
                headers[key] = own
        cap = captions.get(key) if blk.section else None
        hdr = headers.get(key) if blk.section else own
        blk.head = "\n".join(x for x in (cap[:300] if cap else None, hdr) if x) or None
