"""Ingest jobs: ``POST /v1/ingest`` saves the upload and returns a job id; the job parses and ingests it.

- Each file is parsed in its own child process (:mod:`agent.api.parse_worker`), killed after
  ``parse_timeout_s``: a parse that hangs is reported as that file's error and holds nothing.
- The parsed documents are embedded and written by the knowledge base in a worker thread (its own write lock).
- At most ``max_concurrent_jobs`` jobs work at once; up to ``max_queued_jobs`` more wait (state ``queued``);
  beyond that the request gets 429 before its body is read. Jobs count in the run admission and metrics
  (endpoint ``ingest``).
- A job is visible to its owner only; finished jobs are kept for ``run_retention_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from agent.api.errors import APIError

log = logging.getLogger("agent.api")


class Job:
    def __init__(self, owner: str, files: list[Any], tmp: Path, shared: bool) -> None:
        self.job_id = uuid.uuid4().hex
        self.owner = owner
        self.files = files
        self.tmp = tmp
        self.shared = shared
        self.state = "queued"
        self.results: list[dict[str, Any]] = []
        self.error: str | None = None
        self.created = time.monotonic()
        self.finished_at: float | None = None
        self.task: asyncio.Task | None = None

    def describe(self) -> dict[str, Any]:
        out = {"job_id": self.job_id, "state": self.state,
               "progress": {"done": len(self.results), "total": len(self.files)}, "results": list(self.results)}
        if self.error:
            out["error"] = self.error
        return out


class JobManager:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.jobs: dict[str, Job] = {}
        self._slots: asyncio.Semaphore | None = None

    @property
    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.ctx.settings.api.max_concurrent_jobs)
        return self._slots

    def check_capacity(self) -> None:
        """Before the body is read: the run admission, then room in the job queue."""
        self.ctx.admit()
        api = self.ctx.settings.api
        unfinished = sum(1 for j in self.jobs.values() if j.state in ("queued", "running"))
        if unfinished >= api.max_concurrent_jobs + api.max_queued_jobs:
            raise APIError(429, f"{unfinished} ingest jobs are running or queued (at most {api.max_concurrent_jobs} "
                           f"+ {api.max_queued_jobs}); retry later.", type="rate_limit_error", code="too_many_jobs",
                           headers={"Retry-After": "5"})

    def submit(self, owner: str, files: list[Any], tmp: Path, shared: bool) -> Job:
        self._evict()
        job = Job(owner, files, tmp, shared)
        self.jobs[job.job_id] = job
        job.task = asyncio.create_task(self._run(job))
        self.ctx.track(job.task)
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        job = self.jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    def _evict(self) -> None:
        keep, now = self.ctx.settings.api.run_retention_s, time.monotonic()
        for jid in [j for j, job in self.jobs.items() if job.finished_at and now - job.finished_at > keep]:
            del self.jobs[jid]

    async def aclose(self) -> None:
        for job in self.jobs.values():
            if job.task is not None and not job.task.done():
                job.task.cancel()
                with contextlib.suppress(BaseException):
                    await job.task

    async def _run(self, job: Job) -> None:
        metrics, started = self.ctx.metrics, time.perf_counter()
        outcome = "ok"
        try:
            async with self.slots:
                job.state = "running"
                kb = await self.ctx.knowledge_base()
                for f in job.files:
                    job.results.append(await self._one(kb, job, f))
            job.state = "done"
        except asyncio.CancelledError:
            job.state, outcome = "cancelled", "cancelled"
            raise
        except Exception as exc:  # noqa: BLE001 - reported in the job
            log.exception("ingest job %s failed", job.job_id)
            job.state, job.error, outcome = "failed", f"{type(exc).__name__}: {exc}", "error"
        finally:
            job.finished_at = time.monotonic()
            metrics.runs.labels("ingest", outcome).inc()
            if outcome == "ok":
                metrics.run_latency.labels("ingest").observe(time.perf_counter() - started)
            await asyncio.to_thread(shutil.rmtree, job.tmp, True)

    async def _one(self, kb: Any, job: Job, f: Any) -> dict[str, Any]:
        result: dict[str, Any] = {"file": f.filename}
        scrub = (str(f.path.parent) + "/", "")
        try:
            docs = await self.parse(f.path)
            owner = None if job.shared else job.owner
            report = await asyncio.to_thread(kb.ingest_documents, docs, owner)
        except (ParseError, self.ctx.ingest_error) as exc:
            self.ctx.metrics.ingest_files.labels("rejected").inc()
            return result | {"error": str(exc).replace(*scrub) or "the file could not be ingested"}
        self.ctx.metrics.ingest_files.labels("ingested").inc()
        ids = [*report.added_docs, *report.replaced_docs, *report.unchanged_docs]
        result.update(doc_id=ids[0] if len(ids) == 1 else None, doc_ids=ids,
                      chunks=report.chunks_written + report.chunks_unchanged,
                      added=report.added_docs, replaced=report.replaced_docs, unchanged=report.unchanged_docs)
        problems = [m.replace(*scrub) for m in [*report.errors, *report.warnings]]
        if problems:
            result["warnings"] = problems
        return result

    async def parse(self, path: Path) -> list[Any]:
        """The file's documents, parsed in a child process that is killed after ``parse_timeout_s``."""
        api = self.ctx.settings.api
        out = path.with_name(path.name + ".parsed")
        max_bytes = int(self.ctx.settings.ingest.max_file_mb * 2**20)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent.api.parse_worker", str(path), str(out), str(max_bytes),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), api.parse_timeout_s)
        except (TimeoutError, asyncio.CancelledError) as exc:
            with contextlib.suppress(ProcessLookupError):  # it may exit between the timeout and the kill
                proc.kill()
            await proc.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise ParseError(f"{path.name}: parsing took longer than {api.parse_timeout_s:g} s "
                             "(BIOAGENT_API__PARSE_TIMEOUT_S); the file was skipped") from None
        if proc.returncode != 0:
            lines = (err or b"").decode("utf-8", "replace").strip().splitlines()
            message = lines[-1] if lines else f"the parser exited with status {proc.returncode}"
            raise ParseError(message if path.name in message else f"{path.name}: {message}")
        data = await asyncio.to_thread(out.read_bytes)
        return pickle.loads(data)  # written by our own child process for this file


class ParseError(Exception):
    """An uploaded file could not be parsed (unreadable, or the parse timed out)."""
