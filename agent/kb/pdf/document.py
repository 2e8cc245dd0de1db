"""A PDF file as a knowledge-base document: the layout-aware reader (default) or plain pypdf (comparison)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from agent.kb.errors import IngestError
from agent.kb.loaders import LoadedDocument, Section, _check_size

log = logging.getLogger(__name__)


class _PdfProblems(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _check_pdf(path: Path, max_bytes: int) -> None:
    _check_size(path, max_bytes)
    with path.open("rb") as fh:
        if fh.read(5) != b"%PDF-":
            raise IngestError(f"{path}: not a PDF (the file does not start with %PDF-)", str(path))


def load_pdf(path: Path, max_bytes: int, extractor: str = "layout") -> LoadedDocument:
    """A PDF as a document. ``layout`` (default): reading order, cleaned text, captions/tables/references
    apart, metadata from the paper (agent.kb.pdf); ``pypdf``: the former plain per-page text."""
    if extractor == "pypdf":
        return load_pdf_pypdf(path, max_bytes)
    if extractor != "layout":
        raise IngestError(f"{path}: unknown PDF extractor {extractor!r} (layout or pypdf)", str(path))
    _check_pdf(path, max_bytes)
    import pypdfium2 as pdfium

    from agent.kb.pdf import extract

    try:
        paper = extract(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower():
            raise IngestError(f"{path}: the PDF is encrypted", str(path)) from None
        raise IngestError(f"{path}: not a readable PDF ({msg})", str(path)) from None
    warnings = [f"{path}: {w}" for w in paper.warnings]
    for w in warnings:
        log.warning("%s", w)
    sections: list[Section] = []
    for blk in paper.blocks:
        last = sections[-1] if sections else None
        if blk.kind in ("body", "reference") and last is not None and last.kind == blk.kind \
                and last.page == blk.page and last.section == blk.section:
            last.text += "\n\n" + blk.text  # paragraphs (or entries) of one page and section stay together
        else:
            sections.append(Section(text=blk.text, page=blk.page, section=blk.section, kind=blk.kind, head=blk.head))
    if not any(s.kind != "reference" for s in sections):
        raise IngestError(f"{path}: the PDF has no extractable text (scanned images need OCR first)", str(path))
    m = paper.meta
    metadata: dict[str, Any] = {"pdf_extractor": "layout"}
    if m.authors:
        metadata["authors"] = m.authors
    if m.journal:
        metadata["journal"] = m.journal
    if m.sources:
        metadata["metadata_sources"] = m.sources
    return LoadedDocument(
        doc_id=path.stem, title=m.title or path.stem, sections=sections, source="file", year=m.year, doi=m.doi,
        path=str(path.resolve()), metadata=metadata, warnings=warnings,
    )


def load_pdf_pypdf(path: Path, max_bytes: int) -> LoadedDocument:
    """The plain pypdf text of each page (kept for comparison: ``BIOAGENT_INGEST__PDF_EXTRACTOR=pypdf``)."""
    _check_pdf(path, max_bytes)
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").propagate = False  # its messages are collected per page below
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(f"{path}: the PDF is encrypted", str(path))
        n_pages = len(reader.pages)
    except IngestError:
        raise
    except (PdfReadError, Exception) as exc:  # pypdf raises many types on a damaged file
        raise IngestError(f"{path}: not a readable PDF ({type(exc).__name__}: {exc})", str(path)) from None
    warnings: list[str] = []
    sections: list[Section] = []
    for i in range(n_pages):
        problems = _PdfProblems()
        pdf_log = logging.getLogger("pypdf")
        pdf_log.addHandler(problems)
        try:
            page_text = reader.pages[i].extract_text() or ""
        except Exception as exc:  # one bad page: skip it, keep the document
            problems.messages.append(f"{type(exc).__name__}: {exc}")
            page_text = ""
        finally:
            pdf_log.removeHandler(problems)
        if not page_text.strip() and problems.messages:
            # pypdf often logs (instead of raising) when a page's content cannot be decoded
            msg = f"{path}: page {i + 1} could not be read and was skipped ({problems.messages[0][:200]})"
            log.warning(msg)
            warnings.append(msg)
            continue
        page_text = re.sub(r"[ \t]+\n", "\n", page_text).strip()
        if page_text:
            sections.append(Section(text=page_text, page=i + 1))
    if not sections:
        raise IngestError(f"{path}: the PDF has no extractable text (scanned images need OCR first)", str(path))
    title = ""
    try:
        title = str((reader.metadata or {}).get("/Title") or "").strip()
    except Exception:
        title = ""
    if not title:
        first = sections[0].text.splitlines()[0].strip()
        title = first if 0 < len(first) <= 150 else path.stem
    return LoadedDocument(
        doc_id=path.stem, title=title, sections=sections, source="file", path=str(path.resolve()), warnings=warnings
    )


