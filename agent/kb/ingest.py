"""The write side of the knowledge base: ingest files and records, the optimise threshold, the multilingual
phase and --reindex. A mixin of KnowledgeBase (the write path itself is agent.kb.writer).

Per batch of documents: load -> chunk by model tokens -> embed (cache) + sparse BM25 weights -> write (see
agent.kb.writer for the order of writes and what a crash leaves). A document is skipped when its content hash
and its index fingerprint are both unchanged; changed settings make it stale, and re-ingesting rebuilds it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from agent.kb import writer
from agent.kb.errors import IngestError
from agent.kb.fingerprint import document_settings, fingerprint
from agent.kb.loaders import LoadedDocument, expand_paths, load_file, record_to_document
from agent.kb.models import IngestReport, Record
from agent.kb.store import StoreFilter
from agent.kb.writer import manifest_id

log = logging.getLogger(__name__)


class IngestMixin:
    def ingest_paths(self, paths: Sequence[str | Path], progress: bool = False) -> IngestReport:
        """Ingest files and folders (PDF, Markdown, text, JSONL). A named file that cannot be read raises
        IngestError before anything is written; a bad file found inside a folder is reported and skipped."""
        t0 = time.perf_counter()
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if not paths:
            raise IngestError("no paths given")
        max_bytes = int(self.settings.ingest.max_file_mb * 2**20)
        report = IngestReport()
        files = expand_paths(paths)
        pdf = self.settings.ingest.pdf_extractor
        if not files:
            raise IngestError(f"{', '.join(map(str, paths))}: no supported files found (PDF, Markdown, text, JSONL)")
        explicit: list[LoadedDocument] = []
        for f, named in files:
            if named:
                explicit.extend(load_file(f, max_bytes, pdf))  # raises IngestError naming the file

        def docs() -> Iterator[LoadedDocument]:
            yield from explicit
            for f, named in files:
                if named:
                    continue
                try:
                    yield from load_file(f, max_bytes, pdf)
                except IngestError as exc:
                    log.warning("%s", exc)
                    report.errors.append(str(exc))

        self._ingest(self._with_file_ids(docs()), report, progress, total=len(files))
        report.seconds = time.perf_counter() - t0
        return report

    def ingest_documents(self, docs: Sequence[LoadedDocument], owner: str | None = None) -> IngestReport:
        """Ingest documents parsed elsewhere (the API parses uploads in a subprocess). With ``owner``, each
        document is that user's: its id gets the prefix ``owner:`` and its points an ``owner`` field."""
        t0 = time.perf_counter()
        report = IngestReport()
        for doc in docs:
            if owner:
                doc.owner, doc.doc_id = owner, f"{owner}:{doc.doc_id}"
        self._ingest(self._with_file_ids(iter(docs)), report, False, total=len(docs))
        report.seconds = time.perf_counter() - t0
        return report

    def ingest_records(self, records: Sequence[Record], progress: bool = False) -> IngestReport:
        """Ingest documents given as data (JSONL lines, PubMed records, API uploads)."""
        t0 = time.perf_counter()
        report = IngestReport()
        docs: list[LoadedDocument] = []
        seen: set[str] = set()
        for rec in records:
            if not isinstance(rec, Record):
                try:
                    rec = Record.model_validate(rec)
                except Exception as exc:
                    raise IngestError(f"invalid record: {exc}") from None
            if rec.id in seen:
                raise IngestError(f"record {rec.id!r}: duplicate id in this batch")
            max_bytes = self.settings.ingest.max_file_mb * 2**20
            if len(rec.text) > max_bytes or len(rec.text.encode("utf-8")) > max_bytes:
                raise IngestError(
                    f"record {rec.id!r}: the text is over the limit of {self.settings.ingest.max_file_mb:g} MiB "
                    "(BIOAGENT_INGEST__MAX_FILE_MB)"
                )
            seen.add(rec.id)
            docs.append(record_to_document(rec, default_source=rec.source))
        self._ingest(iter(docs), report, progress, total=len(docs))
        report.seconds = time.perf_counter() - t0
        return report

    def _with_file_ids(self, docs: Iterable[LoadedDocument]) -> Iterator[LoadedDocument]:
        """File documents are named by their file stem; a stem already used by another existing file gets a
        short hash of the path appended, so two `notes.md` in different folders do not replace each other."""
        used: dict[str, str] = {}
        for doc in docs:
            if doc.path and doc.path.lower().endswith((".jsonl", ".ndjson")):
                yield doc
                continue
            key = doc.doc_id
            other = used.get(key)
            if other is None and self.store.exists():
                man = self._manifest(key)
                if man and man.get("path") and man["path"] != doc.path and Path(man["path"]).exists():
                    other = man["path"]
            if other is not None and other != doc.path:
                doc.doc_id = f"{key}-{hashlib.sha1((doc.path or '').encode()).hexdigest()[:6]}"
            used.setdefault(doc.doc_id, doc.path or "")
            yield doc

    def _manifest(self, doc_id: str) -> dict[str, Any] | None:
        if not self.store.exists():
            return None
        recs = self.store.retrieve([manifest_id(doc_id)])
        return recs[0].payload if recs else None

    def _ingest(self, docs: Iterator[LoadedDocument], report: IngestReport, progress: bool, total: int | None) -> None:
        if self._closed:
            raise RuntimeError("this KnowledgeBase is closed")
        self._ensure_collection()
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="ingest", unit="file" if total else "doc")
        batch: list[tuple[LoadedDocument, str, list, dict | None]] = []
        n_batch = 0
        limit = self.settings.ingest.batch_chunks
        fp = fingerprint(document_settings(self.settings))
        with self._write_lock:
            try:
                for doc in docs:
                    report.warnings.extend(doc.warnings)
                    h = doc.content_hash()
                    man = self._manifest(doc.doc_id)
                    if man and man.get("doc_hash") == h and man.get("fp") == fp and self._complete(man):
                        report.unchanged_docs.append(doc.doc_id)
                        report.chunks_unchanged += int(man.get("chunks", 0))
                    else:
                        chunks = self.chunker.chunk(doc)
                        if not chunks:
                            report.errors.append(f"{doc.path or doc.doc_id}: no text to index")
                        else:
                            batch.append((doc, h, chunks, man))
                            n_batch += len(chunks)
                    if bar is not None:
                        bar.update(1)
                    if n_batch >= limit:
                        writer.write_batch(self, batch, report)
                        batch, n_batch = [], 0
                if batch:
                    writer.write_batch(self, batch, report)
            finally:
                if bar is not None:
                    bar.close()
            if report.chunks_written:
                self._ml_complete = False
                self._after_write(report.chunks_written)
            if self._multilingual_on() and self.settings.embedding.multilingual_backfill == "ingest":
                self.backfill_multilingual(report, progress)
            if self._multilingual_on():
                report.multilingual_pending = self.store.count(writer.MISSING_ML)

    def _complete(self, man: dict[str, Any]) -> bool:
        """The document's stored passages match its manifest (a replace that died before deleting the old
        version's passages leaves more: the document is then written again)."""
        n = self.store.count(StoreFilter(match={"kind": ["chunk"], "doc_id": [man["doc_id"]]}))
        return n == int(man.get("chunks", 0))

    def _after_write(self, changed: int) -> None:
        """Flush, and optimise the index only once enough points changed since the last optimisation (the
        count is kept in the collection's meta point, so it survives restarts)."""
        self.store.flush()
        meta = dict(self._read_meta() or {})
        pending = int(meta.get("changed_since_optimize", 0)) + changed
        if pending >= self.settings.ingest.optimize_min_changes:
            t0 = time.perf_counter()
            self.store.optimize()
            log.info("optimised the index after %d changed points in %.1f s", pending, time.perf_counter() - t0)
            pending = 0
        meta["changed_since_optimize"] = pending
        self._write_meta(meta)
        self.store.flush()

    def optimize(self) -> None:
        """Optimise the index now (HNSW build, segment merge), whatever changed."""
        with self._write_lock:
            if self._read_meta() is None:
                return
            self.store.optimize()
            self._write_meta({**(self._read_meta() or {}), "changed_since_optimize": 0})
            self.store.flush()

    def _embed_text(self, doc: LoadedDocument, text: str) -> str:
        if self.settings.chunking.title_in_embedding and doc.title:
            return f"{doc.title}\n{text}"
        return text

    def backfill_multilingual(self, report: IngestReport | None = None, progress: bool = False,
                              stop: threading.Event | None = None) -> IngestReport:
        """Add the multilingual vector to every passage that lacks it: batched, resumable (an interrupted run
        keeps what it wrote), safe beside searches and ingests."""
        from agent.kb.multilingual import backfill

        report = report or IngestReport()
        if not self._multilingual_on() or self._read_meta() is None:
            return report
        backfill(self, report, progress, stop)
        return report

    def start_multilingual_backfill(self) -> threading.Thread | None:
        """Fill missing multilingual vectors in a background thread (at most one per KnowledgeBase)."""
        if not self._multilingual_on() or self._closed:
            return None
        with self._lazy_lock:
            if self._ml_thread is None or not self._ml_thread.is_alive():
                self._ml_stop = threading.Event()
                self._ml_thread = threading.Thread(target=self._backfill_quietly, name="kb-multilingual", daemon=True)
                self._ml_thread.start()
            return self._ml_thread

    def _backfill_quietly(self) -> None:
        try:
            self.backfill_multilingual(stop=self._ml_stop)
        except Exception as exc:  # noqa: BLE001 - a background thread reports, never raises
            log.warning("multilingual vectors: background fill stopped: %s", exc)

    def multilingual_pending(self) -> int:
        """Passages still without a multilingual vector (0 when the route is off)."""
        if self._ml_complete or not self._multilingual_on():
            return 0
        n = self.store.count(writer.MISSING_ML)
        self._ml_complete = n == 0
        return n

    def reindex(self, progress: bool = False) -> IngestReport:
        """Rebuild what is stale after a change of index settings (see agent.kb.reindex)."""
        from agent.kb.reindex import reindex

        if self._closed:
            raise RuntimeError("this KnowledgeBase is closed")
        return reindex(self, progress)

