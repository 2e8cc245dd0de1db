"""Read files into documents: PDF (pages kept), Markdown (YAML front matter, sections), plain text, JSONL.

Every problem with an input is an :class:`IngestError` whose message names the file (and the line or page).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.kb.errors import IngestError
from agent.kb.models import Record

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
PDF_SUFFIXES = {".pdf"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | PDF_SUFFIXES | JSONL_SUFFIXES
META_KEYS = ("year", "doi", "pmid", "url", "source")


CHUNK_KINDS = ("body", "caption", "table", "reference")


@dataclass
class Section:
    """A piece of a document that chunks never cross: a PDF page (or a caption, table or reference list on
    it), a Markdown section, a JATS section. ``kind``: body, caption, table or reference."""

    text: str
    page: int | None = None
    section: str | None = None
    kind: str = "body"
    head: str | None = None  # a table's caption and column headers, put atop each of its chunks


@dataclass
class LoadedDocument:
    doc_id: str
    title: str
    sections: list[Section]
    source: str | None = None
    year: int | None = None
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    path: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    owner: str | None = None  # the uploading user (API); None: the shared library

    def content_hash(self) -> str:
        """Hash of everything that ends up in the store: a change anywhere replaces the document."""
        h = hashlib.sha256()
        head = [self.doc_id, self.title, self.source, self.year, self.doi, self.pmid, self.url, self.metadata]
        h.update(json.dumps(head, sort_keys=True, default=str).encode())
        for s in self.sections:
            h.update(f"\x00{s.page}\x00{s.section}\x00".encode())
            if s.kind != "body":
                h.update(f"{s.kind}\x00".encode())
            if s.head:
                h.update(f"{s.head}\x00".encode())
            h.update(s.text.encode())
        return h.hexdigest()

    @property
    def text_chars(self) -> int:
        return sum(len(s.text) for s in self.sections)


def _clean_meta(meta: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    year = meta.get("year")
    if year not in (None, ""):
        try:
            out["year"] = int(str(year).strip()[:4])
        except ValueError:
            raise IngestError(f"{where}: `year` must be a number, got {year!r}") from None
    for key in ("doi", "pmid", "url", "source"):
        val = meta.get(key)
        if val not in (None, ""):
            if isinstance(val, (list, dict)):
                raise IngestError(f"{where}: `{key}` must be a single value, got {type(val).__name__}")
            out[key] = str(val).strip()
    if out.get("doi", "").lower().startswith(("https://doi.org/", "http://doi.org/", "doi:")):
        out["doi"] = re.sub(r"^(https?://doi\.org/|doi:)", "", out["doi"], flags=re.I)
    return out


def record_to_document(rec: Record, default_source: str | None = "jsonl", path: str | None = None) -> LoadedDocument:
    where = f"record {rec.id!r}" if path is None else f"{path}: record {rec.id!r}"
    meta = _clean_meta({k: getattr(rec, k) for k in META_KEYS}, where)
    text = rec.text.strip()
    if not text:
        raise IngestError(f"{where}: `text` is empty", path)
    sections = [Section(text=text)]
    if rec.sections:
        sections = [Section(s.text.strip(), s.page, s.section, s.kind) for s in rec.sections if s.text.strip()]
        if not any(s.kind != "reference" for s in sections):
            raise IngestError(f"{where}: `sections` hold only references", path)
    return LoadedDocument(
        doc_id=rec.id.strip(),
        title=(rec.title or "").strip(),
        sections=sections,
        source=meta.get("source", default_source),
        year=meta.get("year"),
        doi=meta.get("doi"),
        pmid=meta.get("pmid"),
        url=meta.get("url"),
        path=path,
        metadata=dict(rec.metadata),
    )


# ---------------------------------------------------------------------------------------------- file reading


def _check_size(path: Path, max_bytes: int) -> None:
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{path}: the file is empty", str(path))
    if size > max_bytes:
        raise IngestError(
            f"{path}: the file is {size / 2**20:.1f} MiB, over the limit of {max_bytes / 2**20:.1f} MiB "
            "(BIOAGENT_INGEST__MAX_FILE_MB)",
            str(path),
        )


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise IngestError(f"{path}: looks like a binary file, not text", str(path))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})", str(path)) from None
    if not text.strip():
        raise IngestError(f"{path}: the file has no text", str(path))
    return text


_FRONT_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")


REFERENCES_HEADING_RE = re.compile(r"^\s*(?:[\dIVX]+\.?\s+)?(?:references?(?: list| cited)?|bibliography|"
                                   r"literature cited|works cited|cited literature|参考文献)\s*:?\s*$", re.I)
"""A Markdown heading over a reference list ("References", "7. Literature cited", "参考文献")."""


def parse_markdown(text: str, where: str) -> tuple[dict[str, Any], list[Section], str | None]:
    """Front matter, sections split at headings, and the first H1 (if any)."""
    meta: dict[str, Any] = {}
    m = _FRONT_RE.match(text)
    if m:
        import yaml

        try:
            meta = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 2}" if mark is not None else ""
            raise IngestError(f"{where}: invalid YAML front matter{line}: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(meta, dict):
            raise IngestError(f"{where}: the YAML front matter must be a mapping (key: value lines)")
        text = text[m.end():]
    sections: list[Section] = []
    current: str | None = None
    buf: list[str] = []
    h1: str | None = None
    in_fence = False

    def flush() -> None:
        body = "\n".join(buf).strip()
        if body:  # a reference list is stored as such: the search leaves it out of the evidence by default
            kind = "reference" if current and REFERENCES_HEADING_RE.match(current) else "body"
            sections.append(Section(text=body, section=current, kind=kind))
        buf.clear()

    for line in text.splitlines():
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        hm = None if in_fence else _HEADING_RE.match(line)
        if hm:
            flush()
            current = hm.group(2).strip()
            if len(hm.group(1)) == 1 and h1 is None:
                h1 = current
            continue
        buf.append(line)
    flush()
    return meta, sections, h1


def load_markdown(path: Path, max_bytes: int) -> LoadedDocument:
    _check_size(path, max_bytes)
    text = _read_text(path)
    meta, sections, h1 = parse_markdown(text, str(path))
    if not sections:
        raise IngestError(f"{path}: the file has no text besides its front matter and headings", str(path))
    clean = _clean_meta(meta, str(path))
    title = str(meta.get("title") or h1 or path.stem).strip()
    extra = {k: v for k, v in meta.items() if k not in {"title", "id", *META_KEYS}}
    return LoadedDocument(
        doc_id=str(meta.get("id") or path.stem).strip(),
        title=title,
        sections=sections,
        source=clean.get("source", "file"),
        year=clean.get("year"),
        doi=clean.get("doi"),
        pmid=clean.get("pmid"),
        url=clean.get("url"),
        path=str(path.resolve()),
        metadata=json.loads(json.dumps(extra, default=str)),
    )


def load_text(path: Path, max_bytes: int) -> LoadedDocument:
    _check_size(path, max_bytes)
    text = _read_text(path).strip()
    first = text.splitlines()[0].strip()
    title = first if len(first) <= 150 else path.stem
    return LoadedDocument(
        doc_id=path.stem, title=title, sections=[Section(text=text)], source="file", path=str(path.resolve())
    )


def load_pdf(path: Path, max_bytes: int, extractor: str = "layout") -> LoadedDocument:
    """A PDF as a document (see agent.kb.pdf.document)."""
    from agent.kb.pdf.document import load_pdf as _load

    return _load(path, max_bytes, extractor)


def iter_jsonl(path: Path, max_bytes: int) -> Iterator[LoadedDocument]:
    """Documents from a JSONL file; a bad line is an error naming the file and the line."""
    _check_size(path, max_bytes)
    text = _read_text(path)
    seen: dict[str, int] = {}
    n = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})", str(path)) from None
        if not isinstance(obj, dict):
            raise IngestError(f"{path}:{lineno}: each line must be a JSON object", str(path))
        if "id" in obj and not isinstance(obj["id"], str):
            obj["id"] = str(obj["id"])
        if "pmid" in obj and isinstance(obj["pmid"], int):
            obj["pmid"] = str(obj["pmid"])
        try:
            rec = Record.model_validate(obj)
        except ValidationError as exc:
            errs = "; ".join(f"`{'.'.join(map(str, e['loc']))}`: {e['msg']}" for e in exc.errors())
            raise IngestError(f"{path}:{lineno}: invalid record ({errs})", str(path)) from None
        if rec.id in seen:
            raise IngestError(f"{path}:{lineno}: duplicate id {rec.id!r} (first on line {seen[rec.id]})", str(path))
        seen[rec.id] = lineno
        try:
            doc = record_to_document(rec, path=str(path.resolve()))
        except IngestError as exc:
            raise IngestError(f"{path}:{lineno}: {exc}".replace(f"{path.resolve()}: ", ""), str(path)) from None
        n += 1
        yield doc
    if n == 0:
        raise IngestError(f"{path}: no records in the file", str(path))


def load_file(path: Path, max_bytes: int, pdf_extractor: str = "layout") -> list[LoadedDocument]:
    """All documents in one file (one for PDF/Markdown/text, one per line for JSONL)."""
    if not path.exists():
        raise IngestError(f"{path}: no such file or directory", str(path))
    if not path.is_file():
        raise IngestError(f"{path}: not a regular file", str(path))
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return [load_markdown(path, max_bytes)]
    if suffix in TEXT_SUFFIXES:
        return [load_text(path, max_bytes)]
    if suffix in PDF_SUFFIXES:
        return [load_pdf(path, max_bytes, pdf_extractor)]
    if suffix in JSONL_SUFFIXES:
        return list(iter_jsonl(path, max_bytes))
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    raise IngestError(f"{path}: unsupported file type {suffix or '(no extension)'!r} (supported: {supported})", str(path))


def expand_paths(paths: Sequence[str | Path]) -> list[tuple[Path, bool]]:
    """Files to ingest as (path, named explicitly). Folders are walked recursively for supported files;
    hidden files and folders are skipped."""
    out: list[tuple[Path, bool]] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if any(part.startswith(".") for part in rel.parts) or not f.is_file():
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    out.append((f, False))
        else:
            out.append((p, True))
    return out
