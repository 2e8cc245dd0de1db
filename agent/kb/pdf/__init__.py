"""Layout-aware PDF reading for the knowledge base (pypdfium2, Apache-2.0/BSD).

``extract(path)`` returns the paper's blocks (body paragraphs, figure/table captions, table rows with their
caption, column headers and the abbreviations they use spelled out, reference entries, each with its page and
section), its metadata (title, authors, year, journal, DOI) and what was
cleaned. ``agent.kb.pdf.document.load_pdf`` turns that into a document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.kb.pdf.abbrev import definitions, used_in
from agent.kb.pdf.clean import Block, build_blocks, remove_furniture
from agent.kb.pdf.layout import read_pages
from agent.kb.pdf.metadata import PaperMeta, extract_metadata
from agent.kb.pdf.references import Reference, resolve_citations, split_entries

__all__ = ["ExtractedPaper", "Block", "Reference", "extract", "resolve_citations"]


@dataclass
class ExtractedPaper:
    blocks: list[Block]
    references: list[Reference]
    meta: PaperMeta
    pages: int
    removed_lines: int = 0
    two_column_pages: int = 0
    warnings: list[str] = field(default_factory=list)


def extract(path: str) -> ExtractedPaper:
    pages, pdf_meta, warnings = read_pages(path)
    raw_lines = {p.number: list(p.lines) for p in pages}
    first_raw = pages[0] if pages else None
    first_lines = list(first_raw.lines) if first_raw else []
    removed = remove_furniture(pages)
    blocks, ref_lines = build_blocks(pages)
    refs = split_entries(ref_lines)
    ref_ids = {id(ln) for ln in ref_lines}
    body_text = {n: "\n".join(ln.text for ln in lines if id(ln) not in ref_ids) for n, lines in raw_lines.items()}
    if first_raw is not None:
        first_raw.lines = first_lines  # metadata reads page 1 as printed (running header included)
    meta = extract_metadata(pages, pdf_meta, body_text)
    for b in blocks:
        if b.kind == "body" and b.section is None and b.page == 1:
            b.section = "Front matter"
    defs = definitions([b.text for b in blocks if b.kind in ("body", "caption")])
    for b in blocks:  # a table's head also says what the abbreviations in its rows stand for
        used = used_in(b.text, defs) if b.kind == "table" else []
        if used:
            b.head = "\n".join(x for x in (b.head, "; ".join(f"{sf}: {lf}" for sf, lf in used)) if x)
    blocks.extend(Block("reference", r.text, r.page, "References") for r in refs)
    return ExtractedPaper(blocks, refs, meta, len(pages), removed, sum(p.two_columns for p in pages), warnings)
