"""Split documents into passages measured in the embedding model's tokens, with overlap.

Sentences are packed into chunks of at most ``chunk_tokens`` tokens; the next chunk starts with the last
sentences of the previous one, up to ``overlap_tokens``. A sentence longer than a chunk is cut into token
windows (with the same overlap). Chunks never cross a section (a PDF page or a Markdown heading), so each keeps
its page or section for citations. Chunk text is a slice of the original text, except in tables: a table
section is cut between rows (one row per line), never inside one unless a row alone is too long, and its head
(caption and column headers) is put atop each of its chunks, so a row group says what its numbers are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.kb.loaders import LoadedDocument

# changes when the same text and settings give other passages (recorded in the index fingerprint, so older
# passages are reported stale): v2 = table sections cut between rows, each chunk led by the table's head; v3 =
# a Markdown reference-list section is stored as references (chunk_kind "reference")
CHUNKER_VERSION = "md-references-v3"

_UNIT_RE = re.compile(r"(?<=[.!?;。！？；])[\"')\]]*\s+|\n[ \t]*\n+|(?<=[。！？；])")


@dataclass
class Chunk:
    text: str
    index: int
    page: int | None = None
    section: str | None = None
    kind: str = "body"


class Chunker:
    def __init__(self, tokenizer, chunk_tokens: int = 200, overlap_tokens: int = 40):
        if overlap_tokens >= chunk_tokens:
            raise ValueError("overlap_tokens must be smaller than chunk_tokens")
        self.tok = tokenizer
        self.size = chunk_tokens
        self.overlap = overlap_tokens

    def _count(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        enc = self.tok(texts, add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False)
        return [len(ids) for ids in enc["input_ids"]]

    def _windows(self, text: str, start: int) -> list[tuple[int, int]]:
        """Token windows over one over-long sentence, as character spans of the section text."""
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        offs = enc["offset_mapping"]
        spans = []
        step = self.size - self.overlap
        i = 0
        while i < len(offs):
            j = min(i + self.size, len(offs))
            spans.append((start + offs[i][0], start + offs[j - 1][1]))
            if j == len(offs):
                break
            i += step
        return spans

    def _tail(self, text: str, piece: tuple[int, int, int]) -> tuple[int, int, int] | None:
        """The last ``overlap`` tokens of a piece, starting at a word boundary."""
        a, b, _n = piece
        offs = self.tok(text[a:b], add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        i = max(1, len(offs) - self.overlap)
        while i < len(offs) and offs[i][0] > 0 and not text[a + offs[i][0] - 1].isspace():
            i += 1  # do not start inside a word
        if i >= len(offs):
            return None
        return (a + offs[i][0], b, len(offs) - i)

    def split_text(self, text: str) -> list[str]:
        # 1. sentence-like units as character spans
        units: list[tuple[int, int]] = []
        pos = 0
        for m in _UNIT_RE.finditer(text):
            if m.start() > pos:
                units.append((pos, m.start()))
            pos = m.end()
        if pos < len(text):
            units.append((pos, len(text)))
        units = [(a, b) for a, b in units if text[a:b].strip()]
        counts = self._count([text[a:b] for a, b in units])
        # 2. split over-long units into token windows
        pieces: list[tuple[int, int, int]] = []
        for (a, b), n in zip(units, counts):
            if n <= self.size:
                pieces.append((a, b, n))
            else:
                for wa, wb in self._windows(text[a:b], a):
                    pieces.append((wa, wb, self.size))
        # 3. greedy packing with sentence overlap
        chunks: list[tuple[int, int]] = []
        cur: list[tuple[int, int, int]] = []
        cur_n = 0
        for piece in pieces:
            if cur and cur_n + piece[2] > self.size:
                chunks.append((cur[0][0], cur[-1][1]))
                keep: list[tuple[int, int, int]] = []
                kept = 0
                for prev in reversed(cur):
                    if kept + prev[2] > self.overlap or prev[2] >= self.size:
                        break
                    keep.insert(0, prev)
                    kept += prev[2]
                if not keep and self.overlap and cur[-1][2] < self.size:
                    tail = self._tail(text, cur[-1])  # no whole sentence fits: repeat the last tokens instead
                    if tail is not None:
                        keep, kept = [tail], tail[2]
                if kept + piece[2] > self.size:
                    keep, kept = [], 0
                cur, cur_n = keep, kept
            cur.append(piece)
            cur_n += piece[2]
        if cur:
            chunks.append((cur[0][0], cur[-1][1]))
        out: list[str] = []
        for a, b in chunks:
            t = text[a:b].strip()
            if t and (not out or out[-1] != t):
                out.append(t)
        return out

    def split_rows(self, text: str, head: str | None = None) -> list[str]:
        """A table's rows (lines) packed into chunks without overlap, each chunk led by ``head``."""
        head = (head or "").strip()
        budget = self.size - (self._count([head])[0] + 1 if head else 0)
        if budget < self.size // 2:  # a head too long to repeat: cut it to leave half the chunk for rows
            enc = self.tok(head, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            head = head[:enc[self.size // 2 - 1][1]].strip()
            budget = self.size - self._count([head])[0] - 1
        rows = [r.strip() for r in text.split("\n") if r.strip()]
        pieces: list[str] = []
        for row, n in zip(rows, self._count(rows)):
            if n <= budget:
                pieces.append(row)
            else:  # one over-long row: token windows
                sub = Chunker(self.tok, budget, min(self.overlap, budget // 2))
                pieces.extend(sub.split_text(row))
        counts = self._count(pieces)
        groups: list[list[str]] = []
        used = 0
        for piece, n in zip(pieces, counts):
            if groups and used + n <= budget:
                groups[-1].append(piece)
                used += n + 1
            else:
                groups.append([piece])
                used = n + 1
        return ["\n".join(([head] if head else []) + g) for g in groups]

    def chunk(self, doc: LoadedDocument) -> list[Chunk]:
        chunks: list[Chunk] = []
        seen: set[str] = set()
        for sec in doc.sections:
            kind = getattr(sec, "kind", "body")
            parts = self.split_rows(sec.text, getattr(sec, "head", None)) if kind == "table" \
                else self.split_text(sec.text)
            for t in parts:
                if t in seen:  # identical passages (repeated boilerplate) are stored once
                    continue
                seen.add(t)
                chunks.append(Chunk(text=t, index=len(chunks), page=sec.page, section=sec.section, kind=kind))
        return chunks
