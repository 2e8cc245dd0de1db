"""The in-process backend: the agent core in this process (AgentService, the knowledge base, the sequence core),
with the user's thread index and preferences kept by ui/user_store.py. Same methods as ui/backend_http.py."""

from __future__ import annotations

import asyncio
import getpass
import inspect
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agent.events import RunOverrides, RunResult, TraceEvent
from agent.kb.models import Hit
from ui.client_errors import ClientError
from ui.user_store import UserStore


def document_row(doc: Any) -> dict:
    """A knowledge-base DocumentInfo (or the API's document dict) as the library page's row."""
    data = doc.model_dump() if hasattr(doc, "model_dump") else dict(doc)
    owner = data.get("owner")
    return {"id": data.get("id") or data.get("doc_id"), "title": data.get("title") or "", "source": data.get("source"),
            "year": data.get("year"), "doi": data.get("doi"), "chunks": int(data.get("chunks") or 0),
            "owner": owner, "shared": bool(data.get("shared", owner is None)),
            "added": data.get("ingested_at") or data.get("added")}


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): one local user
        return "local"


class InProcessBackend:
    """The agent core in this process, for one local user."""

    mode = "in-process"

    def __init__(self, service: Any = None, *, knowledge_base: Any = None, settings: Any = None,
                 user: str | None = None):
        self._service = service
        self._kb = knowledge_base
        self._settings = settings
        self.user = user or _default_user()
        self._store: UserStore | None = None
        self._jobs: dict[str, dict] = {}
        self._tasks: set[asyncio.Task] = set()

    @property
    def label(self) -> str:
        return "in-process core"

    def _cfg(self) -> Any:
        if self._settings is None:
            from agent.settings import get_settings

            self._settings = get_settings()
        return self._settings

    def store(self) -> UserStore:
        if self._store is None:
            self._store = UserStore(self._cfg().data_dir, self.user)
        return self._store

    def _get_service(self) -> Any:
        if self._service is None:
            from agent.runner import AgentService

            self._service = AgentService(self._cfg(), knowledge_base=self._kb)
        return self._service

    def _get_kb(self) -> Any:
        """The knowledge base (sync methods, run off the loop); the process-wide one the service also uses."""
        if self._kb is None:
            from agent.kb import get_knowledge_base

            self._kb = get_knowledge_base(self._cfg())
        return self._kb

    # -- user ------------------------------------------------------------------------------------------------
    async def me(self) -> dict:
        return {"user": self.store().user, "role": "admin", "preferences": self.store().preferences()}

    async def set_preferences(self, prefs: dict) -> dict:
        await asyncio.to_thread(self.store().set_preferences, **prefs)
        return await self.me()

    # -- runs and threads ------------------------------------------------------------------------------------
    async def stream(self, message: str, thread_id: str | None,
                     overrides: RunOverrides | None) -> AsyncIterator[TraceEvent]:
        async for event in self._get_service().stream(message, thread_id=thread_id, overrides=overrides):
            if event.type == "done":
                done_thread = (event.data or {}).get("thread_id")
                if done_thread:
                    await asyncio.to_thread(self.store().touch_thread, done_thread, message)
            yield event

    async def run(self, message: str, thread_id: str | None, overrides: RunOverrides | None) -> RunResult:
        result: RunResult | None = None
        async for event in self.stream(message, thread_id, overrides):
            if event.type == "done":
                result = RunResult.model_validate(event.data)
        if result is None:
            raise ClientError("chat.no_result")
        return result

    async def threads(self) -> list[dict]:
        return await asyncio.to_thread(self.store().threads)

    async def history(self, thread_id: str) -> list[dict]:
        return await self._get_service().history(thread_id)

    async def delete_thread(self, thread_id: str) -> dict:
        if not await asyncio.to_thread(self.store().forget_thread, thread_id):
            raise ClientError("err.not_found", detail=f"thread {thread_id}")
        graph = getattr(self._get_service(), "graph", None)
        saver = getattr(graph, "checkpointer", None)
        if saver is not None and hasattr(saver, "adelete_thread"):
            await saver.adelete_thread(thread_id)  # the conversation itself, not only its index entry
        return {"deleted": thread_id}

    # -- sequences -------------------------------------------------------------------------------------------
    async def analyze_sequence(self, text: str, scan: bool) -> dict:
        from agent.api import sequence  # the function POST /v1/sequence/analyze calls

        return await asyncio.to_thread(sequence.analyze, text, scan=scan, settings=self._cfg())

    async def genome(self, text: str, circular: bool | None, with_map: bool) -> dict:
        from agent.api import sequence  # the functions POST /v1/sequence/genome calls

        def work() -> dict:
            out = sequence.annotate_genome(text, circular=circular)
            if with_map:
                out["map_png_base64"] = sequence.genome_map_png(out)
            return out

        return await asyncio.to_thread(work)

    async def report(self, sequence_text: str, lang: str, scan: bool, literature: bool) -> dict:
        service = self._get_service()
        accepted = inspect.signature(service.report).parameters
        extra = {k: v for k, v in (("scan", scan), ("literature", literature)) if k in accepted}
        return await service.report(sequence_text, lang=lang, **extra)

    async def readiness(self) -> dict[str, dict]:
        return await self._get_service().readiness()

    # -- library ---------------------------------------------------------------------------------------------
    async def start_ingest(self, files: list[tuple[str, bytes]], shared: bool) -> str:
        """Ingest in a background task on the client's loop; ``job(id)`` reports it like the API's jobs."""
        job_id = uuid.uuid4().hex
        self._jobs[job_id] = {"job_id": job_id, "state": "running", "progress": {"done": 0, "total": len(files)},
                              "results": []}
        task = asyncio.get_running_loop().create_task(self._ingest(self._jobs[job_id], files))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_id

    async def _ingest(self, job: dict, files: list[tuple[str, bytes]]) -> None:
        for name, data in files:
            job["results"].append(await self._ingest_one(name, data))
            job["progress"]["done"] += 1
        job["state"] = "done"

    async def _ingest_one(self, name: str, data: bytes) -> dict:
        with tempfile.TemporaryDirectory(prefix="bioagent-ui-upload-") as tmp:
            path = Path(tmp) / (Path(name).name or "upload")
            path.write_bytes(data)
            try:
                report = await asyncio.to_thread(self._get_kb().ingest_paths, [path], progress=False)
            except Exception as exc:  # noqa: BLE001 - one file failing does not stop the others
                return {"file": name, "error": f"{type(exc).__name__}: {exc}"}
        report = report.model_dump() if hasattr(report, "model_dump") else dict(report or {})
        docs = [*report.get("added_docs", []), *report.get("replaced_docs", []), *report.get("unchanged_docs", [])]
        entry: dict = {"file": name, "doc_id": docs[0] if docs else None, "chunks": report.get("chunks_written", 0)}
        if report.get("errors") or not docs:
            entry["error"] = "; ".join(report.get("errors") or []) or "no document read"
        return entry

    async def job(self, job_id: str) -> dict:
        if job_id not in self._jobs:
            raise ClientError("err.not_found", detail=f"job {job_id}")
        job = self._jobs[job_id]
        return {**job, "progress": dict(job["progress"]), "results": list(job["results"])}

    async def list_documents(self, scope: str) -> list[dict]:
        docs = await asyncio.to_thread(self._get_kb().list_documents)
        return [document_row(d) for d in docs or []]

    async def search(self, query: str, k: int, filters: dict | None) -> list[Hit]:
        flt = None
        if filters:
            from agent.kb.models import SearchFilters

            flt = SearchFilters.model_validate(filters)
        hits = await asyncio.to_thread(self._get_kb().search, query, k, flt)
        return [h if isinstance(h, Hit) else Hit.model_validate(h) for h in hits or []]

    async def remove(self, doc_id: str) -> dict:
        chunks = await asyncio.to_thread(self._get_kb().remove, doc_id)
        return {"deleted": doc_id, "chunks": chunks}

    async def stats(self) -> dict:
        stats = await asyncio.to_thread(self._get_kb().stats)
        return stats.model_dump() if hasattr(stats, "model_dump") else dict(stats or {})

    async def aclose(self) -> None:
        if self._service is not None and hasattr(self._service, "aclose"):
            await self._service.aclose()
