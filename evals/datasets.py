"""Evaluation datasets (JSONL): PubMedQA as shipped, a generic QA format, and sequence tasks.

Every problem with an input file is a :class:`DatasetError` naming the file, the line and the field, e.g.
``data.jsonl line 7, field 'final_decision': expected one of yes, no, maybe (got 'probably')``.

Formats (one JSON object a line; blank lines are skipped):

- ``pubmedqa``: ``pubid``, ``question``, ``contexts`` (list of abstract sections), ``final_decision``
  (yes/no/maybe), ``long_answer``; optional ``year``, ``meshes``. Each item's abstract is also a document
  (id ``pubmed:<pubid>``) and is the item's gold document.
- ``qa``: ``id``, ``question``; optional ``answer`` (reference text), ``label`` (yes/no/maybe),
  ``gold_doc_ids`` (list), ``gold_tool`` (tool name, or ``"none"`` when no tool should be called),
  ``gold_tool_args`` (argument values the call must contain), ``language`` (en/zh), ``documents`` (inline
  corpus documents: ``id``, ``text``, optional ``title``).
- ``sequence``: ``id``; the protein as ``sequence`` (FASTA or raw letters) or ``fasta`` (a file path relative to
  the JSONL file) with optional ``record_id``; ``expected_call`` (yes/partial/no) and/or ``expected_motifs``
  (motif key -> 1-based start, keys as in ``annotate_rep``: motif_I, motif_II, motif_III, walker_A, walker_B,
  motif_C); optional ``question`` and ``language``.

A corpus for retrieval can also be given as a separate JSONL of knowledge-base records (``id``, ``text``,
optional ``title``, ``year``, ``doi``, ``pmid``, ``url``, ``source``), read by :func:`load_corpus`.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.kb.models import Record

Format = Literal["pubmedqa", "qa", "sequence"]
LABELS = ("yes", "no", "maybe")
REP_CALLS = ("yes", "partial", "huh_only", "no")
MOTIF_KEYS = ("motif_I", "motif_II", "motif_III", "walker_A", "walker_B", "motif_C")
LANGUAGES = ("en", "zh")


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names the file, line and field."""

    def __init__(self, path: str | Path, message: str, line: int | None = None, field_name: str | None = None):
        self.path, self.line, self.field = str(path), line, field_name
        where = self.path + (f" line {line}" if line is not None else "")
        if field_name:
            where += f", field {field_name!r}"
        super().__init__(f"{where}: {message}")


@dataclass
class QAItem:
    """One question of a QA dataset (PubMedQA or generic)."""

    id: str
    question: str
    answer: str | None = None
    label: str | None = None
    gold_doc_ids: list[str] = field(default_factory=list)
    gold_tool: str | None = None
    gold_tool_args: dict[str, Any] = field(default_factory=dict)
    language: str = "en"
    line: int = 0


@dataclass
class SequenceTask:
    """One protein with the expected Rep call and/or motif positions (1-based starts)."""

    id: str
    sequence: str
    expected_call: str | None = None
    expected_motifs: dict[str, int] = field(default_factory=dict)
    question: str | None = None
    language: str = "en"
    line: int = 0


@dataclass
class Dataset:
    """Items of one file plus the documents the retrieval suite indexes."""

    name: str
    path: str
    format: Format
    sha256: str
    items: list[Any]
    documents: list[Record] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def sample(self, limit: int | None, seed: int) -> Dataset:
        """The first ``limit`` items of a seeded shuffle (the whole set, in file order, without a limit)."""
        if limit is not None and limit < 1:
            raise ValueError("--limit must be at least 1")
        if limit is None or limit >= len(self.items):
            return self
        order = list(range(len(self.items)))
        random.Random(seed).shuffle(order)
        items = [self.items[i] for i in sorted(order[:limit])]
        return Dataset(self.name, self.path, self.format, self.sha256, items, self.documents)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "format": self.format, "sha256": self.sha256,
                "items": len(self.items), "documents": len(self.documents)}


# ---------------------------------------------------------------------------------------------------- reading
def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DatasetError(path, "no such file" if not path.exists() else "not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    # Only \n ends a record: str.splitlines() would also split at U+2028/U+2029 inside JSON strings (PubMedQA has them).
    for n, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DatasetError(path, f"invalid JSON ({exc.msg}, column {exc.colno})", n) from None
        if not isinstance(obj, dict):
            raise DatasetError(path, f"expected a JSON object, got {type(obj).__name__}", n)
        yield n, obj


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Fields:
    """Typed access to one record's fields with errors that name file, line and field."""

    def __init__(self, path: Path, line: int, obj: dict[str, Any]):
        self.path, self.line, self.obj = path, line, obj

    def fail(self, name: str, message: str) -> DatasetError:
        return DatasetError(self.path, message, self.line, name)

    def str(self, name: str, required: bool = True, choices: tuple[str, ...] | None = None) -> str | None:
        v = self.obj.get(name)
        if v is None or (isinstance(v, str) and not v.strip()):
            if required:
                raise self.fail(name, "missing or empty")
            return None
        if isinstance(v, int) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str):
            raise self.fail(name, f"expected a string, got {type(v).__name__}")
        v = v.strip()
        if choices is not None:
            low = v.lower()
            if low not in choices:
                raise self.fail(name, f"expected one of {', '.join(choices)} (got {v!r})")
            return low
        return v

    def str_list(self, name: str, required: bool = False) -> list[str]:
        v = self.obj.get(name)
        if v is None:
            if required:
                raise self.fail(name, "missing")
            return []
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            raise self.fail(name, f"expected a list of strings, got {type(v).__name__}")
        out = []
        for i, x in enumerate(v):
            if isinstance(x, int) and not isinstance(x, bool):
                x = str(x)
            if not isinstance(x, str) or not x.strip():
                raise self.fail(name, f"item {i} is not a non-empty string ({x!r})")
            out.append(x.strip())
        if required and not out:
            raise self.fail(name, "empty list")
        return out

    def mapping(self, name: str) -> dict[str, Any]:
        v = self.obj.get(name)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.fail(name, f"expected an object, got {type(v).__name__}")
        return v


def detect_format(path: str | Path) -> Format:
    """The format of a dataset file, from the fields of its first record."""
    path = Path(path)
    for line, obj in _lines(path):
        if "pubid" in obj and "final_decision" in obj:
            return "pubmedqa"
        if "expected_call" in obj or "expected_motifs" in obj or "fasta" in obj or (
                "sequence" in obj and "question" not in obj):
            return "sequence"
        if "question" in obj:
            return "qa"
        raise DatasetError(path, "cannot tell the format: expected PubMedQA fields (pubid, final_decision), "
                           "QA fields (id, question) or sequence-task fields (sequence/fasta, expected_call)", line)
    raise DatasetError(path, "the file has no records")


def load_dataset(path: str | Path, fmt: str = "auto", name: str | None = None) -> Dataset:
    """Read a dataset file in one of the formats (``auto`` detects it)."""
    path = Path(path).expanduser()
    fmt = detect_format(path) if fmt == "auto" else fmt
    loaders = {"pubmedqa": load_pubmedqa, "qa": load_qa, "sequence": load_sequence_tasks}
    if fmt not in loaders:
        raise DatasetError(path, f"unknown dataset format {fmt!r} (auto, {', '.join(loaders)})")
    return loaders[fmt](path, name=name)


def _check_ids(path: Path, seen: dict[str, int], item_id: str, line: int, name: str = "id") -> None:
    if item_id in seen:
        raise DatasetError(path, f"duplicate id {item_id!r} (first on line {seen[item_id]})", line, name)
    seen[item_id] = line


def _finish(path: Path, name: str | None, fmt: Format, items: list, documents: list[Record]) -> Dataset:
    if not items:
        raise DatasetError(path, "the file has no records")
    return Dataset(name or path.stem, str(path), fmt, _sha256(path), items, documents)


def load_pubmedqa(path: str | Path, name: str | None = None) -> Dataset:
    """PubMedQA (PQA-L) as shipped: one abstract per question; the abstract is the gold document."""
    path = Path(path)
    items: list[QAItem] = []
    docs: list[Record] = []
    seen: dict[str, int] = {}
    for line, obj in _lines(path):
        f = _Fields(path, line, obj)
        pubid = f.str("pubid")
        _check_ids(path, seen, pubid, line, "pubid")
        contexts = f.str_list("contexts", required=True)
        label = f.str("final_decision", choices=LABELS)
        year = obj.get("year")
        try:
            year = int(year) if year not in (None, "") else None
        except (TypeError, ValueError):
            raise f.fail("year", f"expected a year, got {year!r}") from None
        doc_id = f"pubmed:{pubid}"
        items.append(QAItem(id=pubid, question=f.str("question"), answer=f.str("long_answer", required=False),
                            label=label, gold_doc_ids=[doc_id], language="en", line=line))
        meshes = obj.get("meshes") if isinstance(obj.get("meshes"), list) else []
        docs.append(Record(id=doc_id, title="", text=" ".join(contexts), source="pubmedqa", pmid=pubid, year=year,
                           metadata={"meshes": meshes[:20]} if meshes else {}))
    return _finish(path, name, "pubmedqa", items, docs)


def _inline_documents(f: _Fields, docs: dict[str, Record]) -> None:
    raw = f.obj.get("documents")
    if raw is None:
        return
    if not isinstance(raw, list):
        raise f.fail("documents", f"expected a list of documents, got {type(raw).__name__}")
    for i, d in enumerate(raw):
        if not isinstance(d, dict):
            raise f.fail("documents", f"item {i} is not an object")
        sub = _Fields(f.path, f.line, d)
        try:
            rec = Record(id=sub.str("id"), title=sub.str("title", required=False) or "", text=sub.str("text"),
                         source=sub.str("source", required=False) or "eval")
        except DatasetError as exc:
            raise f.fail(f"documents[{i}].{exc.field}", str(exc).rsplit(": ", 1)[-1]) from None
        old = docs.get(rec.id)
        if old is not None and old.text != rec.text:
            raise f.fail(f"documents[{i}].id", f"document {rec.id!r} was given earlier with another text")
        docs[rec.id] = rec


def load_qa(path: str | Path, name: str | None = None) -> Dataset:
    """The generic QA format (see the module docstring)."""
    path = Path(path)
    items: list[QAItem] = []
    docs: dict[str, Record] = {}
    seen: dict[str, int] = {}
    for line, obj in _lines(path):
        f = _Fields(path, line, obj)
        item_id = f.str("id")
        _check_ids(path, seen, item_id, line)
        gold_tool = f.str("gold_tool", required=False)
        args = f.mapping("gold_tool_args")
        if args and not gold_tool:
            raise f.fail("gold_tool_args", "given without gold_tool")
        items.append(QAItem(
            id=item_id, question=f.str("question"), answer=f.str("answer", required=False),
            label=f.str("label", required=False, choices=LABELS), gold_doc_ids=f.str_list("gold_doc_ids"),
            gold_tool=gold_tool, gold_tool_args=args,
            language=f.str("language", required=False, choices=LANGUAGES) or "en", line=line))
        _inline_documents(f, docs)
    return _finish(path, name, "qa", items, list(docs.values()))


def _read_fasta_record(f: _Fields, fasta: str, record_id: str | None) -> str:
    from mcp_servers.sequence.errors import SequenceError
    from mcp_servers.sequence.parsing import read_proteins, select_record

    p = Path(fasta)
    if not p.is_absolute():
        p = f.path.parent / p
    if not p.is_file():
        raise f.fail("fasta", f"no such file: {p}")
    try:
        rec = select_record(read_proteins(p.read_text(encoding="utf-8")), record_id)
    except SequenceError as exc:
        raise f.fail("record_id" if record_id else "fasta", str(exc)) from None
    return f">{rec.id}\n{rec.sequence}\n"


def load_sequence_tasks(path: str | Path, name: str | None = None) -> Dataset:
    """Sequence tasks: a protein and its expected Rep call and/or motif start positions."""
    from mcp_servers.sequence.errors import SequenceError
    from mcp_servers.sequence.parsing import read_proteins

    path = Path(path)
    items: list[SequenceTask] = []
    seen: dict[str, int] = {}
    for line, obj in _lines(path):
        f = _Fields(path, line, obj)
        item_id = f.str("id")
        _check_ids(path, seen, item_id, line)
        if obj.get("sequence") is not None:
            seq = f.str("sequence")
            try:
                read_proteins(seq)
            except SequenceError as exc:
                raise f.fail("sequence", str(exc)) from None
        elif obj.get("fasta") is not None:
            seq = _read_fasta_record(f, f.str("fasta"), f.str("record_id", required=False))
        else:
            raise f.fail("sequence", "missing: give `sequence` (FASTA or letters) or `fasta` (a file path)")
        call = f.str("expected_call", required=False, choices=REP_CALLS)
        motifs_raw = f.mapping("expected_motifs")
        motifs: dict[str, int] = {}
        for key, pos in motifs_raw.items():
            if key not in MOTIF_KEYS:
                raise f.fail(f"expected_motifs.{key}", f"unknown motif (one of {', '.join(MOTIF_KEYS)})")
            if not isinstance(pos, int) or isinstance(pos, bool) or pos < 1:
                raise f.fail(f"expected_motifs.{key}", f"expected a 1-based position, got {pos!r}")
            motifs[key] = pos
        if call is None and not motifs:
            raise f.fail("expected_call", "a task needs expected_call and/or expected_motifs")
        items.append(SequenceTask(id=item_id, sequence=seq, expected_call=call, expected_motifs=motifs,
                                  question=f.str("question", required=False),
                                  language=f.str("language", required=False, choices=LANGUAGES) or "en",
                                  line=line))
    return _finish(path, name, "sequence", items, [])


def load_corpus(path: str | Path) -> list[Record]:
    """A JSONL corpus of knowledge-base records (``id``, ``text``, optional ``title`` and metadata)."""
    path = Path(path).expanduser()
    out: list[Record] = []
    seen: dict[str, int] = {}
    for line, obj in _lines(path):
        f = _Fields(path, line, obj)
        rec_id = f.str("id")
        _check_ids(path, seen, rec_id, line)
        f.str("text")
        try:
            out.append(Record.model_validate({**obj, "id": rec_id}))
        except Exception as exc:  # pydantic ValidationError: name the first bad field
            errs = getattr(exc, "errors", lambda: [])()
            fname = ".".join(str(x) for x in errs[0]["loc"]) if errs else None
            raise DatasetError(path, errs[0]["msg"] if errs else str(exc), line, fname) from None
    if not out:
        raise DatasetError(path, "the file has no records")
    return out
