"""The UI's one way to reach bioagent: a synchronous client over two interchangeable backends.

- :class:`InProcessBackend` wraps :class:`agent.runner.AgentService` (and the knowledge base and sequence core)
  in this process.
- :class:`HTTPBackend` talks to a running ``bioagent serve`` (``UISettings.api_url``) with a bearer key and
  reads its Server-Sent Events stream.

Both are async; :class:`BioagentClient` runs them on one private event loop in a background thread, so the
Streamlit pages (plain synchronous scripts) call ``client.stream(...)`` and iterate trace events as they arrive.
The pages never reimplement agent logic: everything they show comes through here.
"""

from __future__ import annotations

import asyncio
import json
import queue
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from agent.events import RunOverrides, RunResult, TraceEvent
from agent.kb.models import DocumentInfo, Hit

ProgressFn = Callable[[int, int, str], None]


class ClientError(RuntimeError):
    """A failure worth showing to the researcher as it is (already readable)."""


class Unsupported(ClientError):
    """The backend cannot do this (e.g. library management through an API that only accepts uploads)."""


# ----------------------------------------------------------------------------------------------------------------
# Readable errors
# ----------------------------------------------------------------------------------------------------------------


def describe_error(exc: BaseException) -> str:
    """One readable sentence (or two) for an exception, with what to do about it where that is known."""
    if isinstance(exc, ClientError):
        return str(exc)
    name = type(exc).__name__
    text = str(exc).strip() or name
    if type(exc).__module__.startswith(("agent.", "mcp_servers.")):
        return text  # bioagent's own errors are written for the user (LLMUnavailable says what to start or set)
    lowered = f"{name} {text}".lower()
    connection_markers = ("connecterror", "connectionerror", "apiconnectionerror", "connection refused",
                          "connecttimeout", "all connection attempts failed", "name or service not known")
    if any(marker in lowered for marker in connection_markers):
        return (f"Cannot reach the model endpoint ({text}). Start it (`bioagent llm serve`, or your SGLang server) "
                "or set BIOAGENT_LLM__BASE_URL to an OpenAI-compatible endpoint that answers.")
    if "timeout" in lowered:
        return f"The request timed out ({text}). The model endpoint may be overloaded; try again or raise the timeout."
    if isinstance(exc, ValueError):
        return f"Invalid input: {text}"
    return f"{name}: {text}"


def _http_error_message(status: int, body: str) -> str:
    detail: Any = body
    try:
        payload = json.loads(body)
        detail = payload.get("detail", payload) if isinstance(payload, dict) else payload
    except (ValueError, TypeError):
        pass
    if isinstance(detail, list):  # FastAPI 422: [{"loc": [...], "msg": ...}]
        detail = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:]) or 'input'}: {d.get('msg', d)}"
            if isinstance(d, dict) else str(d) for d in detail
        )
    elif isinstance(detail, dict):
        detail = detail.get("message") or json.dumps(detail)
    if status == 401 or status == 403:
        return f"The API refused the key ({status}): set BIOAGENT_UI__API_KEY (or BIOAGENT_API__API_KEY). {detail}"
    if status == 413:
        return f"The upload is too large for the API ({detail})."
    if status == 422:
        return f"The API rejected the input: {detail}"
    return f"The API answered {status}: {detail}"


# ----------------------------------------------------------------------------------------------------------------
# Readiness normalisation (both backends return {component: {"ok": bool, "detail": str, ...}})
# ----------------------------------------------------------------------------------------------------------------


def normalize_readiness(payload: Any) -> dict[str, dict[str, Any]]:
    """Accept the core's readiness dict or an API body that wraps it, return {component: {ok, detail, ...}}."""
    if not isinstance(payload, dict):
        return {"api": {"ok": False, "detail": f"unexpected readiness answer: {payload!r}"[:300]}}
    for key in ("checks", "components", "details", "readiness"):
        inner = payload.get(key)
        if isinstance(inner, dict) and inner:
            payload = inner
            break
    out: dict[str, dict[str, Any]] = {}
    for name, value in payload.items():
        if isinstance(value, dict):
            entry = dict(value)
            entry["ok"] = bool(entry.get("ok", entry.get("status") in ("ok", "up", True)))
            entry.setdefault("detail", "")
            out[str(name)] = entry
        elif isinstance(value, bool):
            out[str(name)] = {"ok": value, "detail": ""}
    return out


# ----------------------------------------------------------------------------------------------------------------
# Backends
# ----------------------------------------------------------------------------------------------------------------


class InProcessBackend:
    """The agent core in this process: AgentService, the knowledge base and the sequence core."""

    mode = "in-process"
    can_manage_library = True

    def __init__(self, service: Any = None, *, knowledge_base: Any = None, settings: Any = None):
        self._service = service
        self._kb = knowledge_base
        self._settings = settings

    @property
    def label(self) -> str:
        return "in-process core"

    def _get_service(self) -> Any:
        if self._service is None:
            from agent.runner import AgentService

            self._service = AgentService(self._settings, knowledge_base=self._kb)
        return self._service

    def _get_kb(self) -> Any:
        """The knowledge base (sync methods, run off the loop); the process-wide one the service also uses."""
        if self._kb is None:
            from agent.kb import get_knowledge_base

            self._kb = get_knowledge_base(self._settings)
        return self._kb

    def stream(self, message: str, thread_id: str | None, overrides: RunOverrides | None) -> AsyncIterator[TraceEvent]:
        return self._get_service().stream(message, thread_id=thread_id, overrides=overrides)

    async def run(self, message: str, thread_id: str | None, overrides: RunOverrides | None) -> RunResult:
        return await self._get_service().run(message, thread_id=thread_id, overrides=overrides)

    async def history(self, thread_id: str) -> list[dict]:
        return await self._get_service().history(thread_id)

    async def report(self, sequence_text: str, lang: str) -> dict:
        return await self._get_service().report(sequence_text, lang=lang)

    async def readiness(self) -> dict[str, dict]:
        return normalize_readiness(await self._get_service().readiness())

    async def analyze_sequence(self, text: str, scan: bool) -> dict:
        from ui import sequence_core

        return await asyncio.to_thread(sequence_core.analyze, text, scan=scan, settings=self._settings)

    async def ingest_one(self, name: str, data: bytes) -> dict:
        with tempfile.TemporaryDirectory(prefix="bioagent-ui-upload-") as tmp:
            path = Path(tmp) / (Path(name).name or "upload")
            path.write_bytes(data)
            report = await asyncio.to_thread(self._get_kb().ingest_paths, [path], progress=False)
        return report.model_dump() if hasattr(report, "model_dump") else dict(report or {})

    async def list_documents(self) -> list[DocumentInfo]:
        docs = await asyncio.to_thread(self._get_kb().list_documents)
        return [d if isinstance(d, DocumentInfo) else DocumentInfo.model_validate(d) for d in docs or []]

    async def search(self, query: str, k: int, filters: dict | None) -> list[Hit]:
        kb = self._get_kb()
        flt = None
        if filters:
            from agent.kb.models import SearchFilters

            flt = SearchFilters.model_validate(filters)
        hits = await asyncio.to_thread(kb.search, query, k, flt)
        return [h if isinstance(h, Hit) else Hit.model_validate(h) for h in hits or []]

    async def remove(self, doc_id: str) -> Any:
        return await asyncio.to_thread(self._get_kb().remove, doc_id)

    async def stats(self) -> dict:
        stats = await asyncio.to_thread(self._get_kb().stats)
        return stats.model_dump() if hasattr(stats, "model_dump") else dict(stats or {})

    async def aclose(self) -> None:
        if self._service is not None and hasattr(self._service, "aclose"):
            await self._service.aclose()


def iter_sse(lines: list[str]) -> Iterator[tuple[str, str]]:
    """Parse SSE lines into (event, data) pairs (the data lines of one event joined by newlines)."""
    event, data = "message", []
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)


class HTTPBackend:
    """A running ``bioagent serve``: JSON endpoints plus the SSE run stream, bearer-key authenticated."""

    mode = "http"
    can_manage_library = False

    def __init__(self, api_url: str, api_key: str | None = None, *, timeout_s: float = 300.0,
                 transport: Any = None):
        import httpx

        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.api_url = api_url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.api_url, headers=headers, transport=transport,
                                         timeout=httpx.Timeout(timeout_s, connect=10.0))

    @property
    def label(self) -> str:
        return f"API {self.api_url}"

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise ClientError(f"Cannot reach the bioagent API at {self.api_url} ({exc}). Start it with "
                              "`bioagent serve` or correct BIOAGENT_UI__API_URL.") from exc
        if response.status_code >= 400:
            raise ClientError(_http_error_message(response.status_code, response.text))
        return response.json()

    @staticmethod
    def _run_body(message: str, thread_id: str | None, overrides: RunOverrides | None) -> dict:
        body: dict[str, Any] = {"message": message}
        if thread_id:
            body["thread_id"] = thread_id
        if overrides is not None:
            body["overrides"] = overrides.model_dump(exclude_none=True)
        return body

    async def stream(self, message: str, thread_id: str | None,
                     overrides: RunOverrides | None) -> AsyncIterator[TraceEvent]:
        import httpx

        body = self._run_body(message, thread_id, overrides)
        try:
            async with self._client.stream("POST", "/v1/runs/stream", json=body,
                                           headers={"Accept": "text/event-stream"}) as response:
                if response.status_code >= 400:
                    text = (await response.aread()).decode("utf-8", "replace")
                    raise ClientError(_http_error_message(response.status_code, text))
                pending: list[str] = []
                async for line in response.aiter_lines():
                    pending.append(line)
                    if line.strip():
                        continue
                    for event_name, data in iter_sse(pending):
                        event = self._to_event(event_name, data)
                        if event is not None:
                            yield event
                    pending = []
                for event_name, data in iter_sse(pending):
                    event = self._to_event(event_name, data)
                    if event is not None:
                        yield event
        except httpx.ConnectError as exc:
            raise ClientError(f"Cannot reach the bioagent API at {self.api_url} ({exc}). Start it with "
                              "`bioagent serve` or correct BIOAGENT_UI__API_URL.") from exc

    @staticmethod
    def _to_event(event_name: str, data: str) -> TraceEvent | None:
        try:
            payload = json.loads(data)
        except ValueError:
            return None
        if not isinstance(payload, dict):
            return None
        if "type" not in payload and event_name in ("step", "token", "tool_call", "tool_result", "error", "done"):
            payload = {"type": event_name, "data": payload}
        try:
            return TraceEvent.model_validate(payload)
        except ValueError:
            return None

    async def run(self, message: str, thread_id: str | None, overrides: RunOverrides | None) -> RunResult:
        return RunResult.model_validate(await self._request("POST", "/v1/runs",
                                                            json=self._run_body(message, thread_id, overrides)))

    async def history(self, thread_id: str) -> list[dict]:
        payload = await self._request("GET", f"/v1/threads/{thread_id}")
        if isinstance(payload, dict):
            payload = payload.get("messages", payload.get("history", []))
        return list(payload or [])

    async def report(self, sequence_text: str, lang: str) -> dict:
        return await self._request("POST", "/v1/sequence/report", json={"sequence": sequence_text, "lang": lang})

    async def readiness(self) -> dict[str, dict]:
        import httpx

        try:
            response = await self._client.get("/readyz")
        except httpx.HTTPError as exc:
            return {"api": {"ok": False, "detail": f"{self.api_url} unreachable: {exc}"}}
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        out = {"api": {"ok": response.status_code < 500 or bool(payload), "detail": self.api_url}}
        out.update(normalize_readiness(payload))
        return out

    async def analyze_sequence(self, text: str, scan: bool) -> dict:
        """The API offers the sequence core through the report endpoint: use its figures' data."""
        from ui import sequence_core

        report = await self.report(text, "en")
        return sequence_core.from_report_data(report.get("data") or {}, text)

    async def ingest_one(self, name: str, data: bytes) -> dict:
        report = await self._request("POST", "/v1/ingest", files=[("files", (name, data))])
        return report.get("report", report)  # IngestResponse: {"files": [...], "report": IngestReport}

    @staticmethod
    def _library_unsupported() -> Unsupported:
        return Unsupported("The bioagent API accepts uploads only; list, search and remove documents with the "
                           "in-process UI (`bioagent ui` without --api-url) or `bioagent kb` on the server.")

    async def list_documents(self) -> list[DocumentInfo]:
        raise self._library_unsupported()

    async def search(self, query: str, k: int, filters: dict | None) -> list[Hit]:
        raise self._library_unsupported()

    async def remove(self, doc_id: str) -> Any:
        raise self._library_unsupported()

    async def stats(self) -> dict:
        raise self._library_unsupported()

    async def aclose(self) -> None:
        await self._client.aclose()


# ----------------------------------------------------------------------------------------------------------------
# The synchronous facade the pages use
# ----------------------------------------------------------------------------------------------------------------


class _LoopThread:
    """One event loop in a daemon thread; coroutines and async iterators are driven there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bioagent-ui-loop", daemon=True)
        self._thread.start()

    def call(self, coro: Any, timeout: float | None = None) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def iterate(self, make_iter: Callable[[], AsyncIterator[Any]]) -> Iterator[Any]:
        items: queue.Queue = queue.Queue()
        end = object()

        async def pump() -> None:
            try:
                async for item in make_iter():
                    items.put((True, item))
            except asyncio.CancelledError:
                pass
            except BaseException as exc:  # handed to the consumer, raised there
                items.put((False, exc))
            finally:
                items.put((True, end))

        future = asyncio.run_coroutine_threadsafe(pump(), self.loop)
        try:
            while True:
                ok, item = items.get()
                if item is end:
                    return
                if not ok:
                    raise item
                yield item
        finally:  # the consumer stopped early (page rerun, error): cancel the run
            if not future.done():
                future.cancel()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class BioagentClient:
    """What the pages call. Every method is synchronous; errors are raised as readable :class:`ClientError`."""

    def __init__(self, backend: InProcessBackend | HTTPBackend):
        self.backend = backend
        self._loop = _LoopThread()
        self._closed = False

    @property
    def mode(self) -> str:
        return self.backend.mode

    @property
    def label(self) -> str:
        return self.backend.label

    @property
    def can_manage_library(self) -> bool:
        return self.backend.can_manage_library

    def _call(self, coro: Any) -> Any:
        try:
            return self._loop.call(coro)
        except ClientError:
            raise
        except Exception as exc:
            raise ClientError(describe_error(exc)) from exc

    def stream(self, message: str, thread_id: str | None = None,
               overrides: RunOverrides | None = None) -> Iterator[TraceEvent]:
        """Trace events as they happen; the last one is ``done`` (its data is the RunResult)."""
        try:
            yield from self._loop.iterate(lambda: self.backend.stream(message, thread_id, overrides))
        except ClientError:
            raise
        except Exception as exc:
            raise ClientError(describe_error(exc)) from exc

    def run(self, message: str, thread_id: str | None = None, overrides: RunOverrides | None = None) -> RunResult:
        return self._call(self.backend.run(message, thread_id, overrides))

    def history(self, thread_id: str) -> list[dict]:
        return self._call(self.backend.history(thread_id))

    def report(self, sequence_text: str, lang: str = "en") -> dict:
        return self._call(self.backend.report(sequence_text, lang))

    def readiness(self) -> dict[str, dict]:
        try:
            return self._loop.call(self.backend.readiness(), timeout=60)
        except Exception as exc:
            return {"core": {"ok": False, "detail": describe_error(exc)}}

    def analyze_sequence(self, text: str, scan: bool = True) -> dict:
        return self._call(self.backend.analyze_sequence(text, scan))

    def ingest(self, files: list[tuple[str, bytes]], progress: ProgressFn | None = None) -> dict:
        """Ingest uploaded files one by one (``progress(done, total, name)`` between them, in the caller's
        thread); one file failing does not stop the others. Returns the merged IngestReport fields."""
        totals: dict[str, Any] = {"added_docs": [], "replaced_docs": [], "unchanged_docs": [], "chunks_written": 0,
                                  "warnings": [], "errors": [], "seconds": 0.0}
        for i, (name, data) in enumerate(files):
            if progress:
                progress(i, len(files), name)
            try:
                report = self._call(self.backend.ingest_one(name, data))
            except ClientError as exc:
                totals["errors"].append(f"{name}: {exc}")
                continue
            for key in ("added_docs", "replaced_docs", "unchanged_docs", "warnings", "errors"):
                totals[key].extend(report.get(key) or [])
            totals["chunks_written"] += int(report.get("chunks_written") or 0)
            totals["seconds"] += float(report.get("seconds") or 0.0)
        if progress:
            progress(len(files), len(files), "")
        return totals

    def list_documents(self) -> list[DocumentInfo]:
        return self._call(self.backend.list_documents())

    def search(self, query: str, k: int = 6, filters: dict | None = None) -> list[Hit]:
        return self._call(self.backend.search(query, k, filters))

    def remove(self, doc_id: str) -> Any:
        return self._call(self.backend.remove(doc_id))

    def stats(self) -> dict:
        return self._call(self.backend.stats())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.call(self.backend.aclose(), timeout=30)
        finally:
            self._loop.stop()


def make_client(settings: Any = None, *, api_url: str | None = None, api_key: str | None = None) -> BioagentClient:
    """The client the settings ask for: the HTTP API when ``ui.api_url`` (or ``api_url``) is set, else in-process."""
    if settings is None:
        from agent.settings import get_settings

        settings = get_settings()
    url = api_url or settings.ui.api_url
    if url:
        key = api_key
        if key is None:
            secret = settings.ui.api_key or settings.api.api_key
            key = secret.get_secret_value() if secret is not None else None
        return BioagentClient(HTTPBackend(url, key, timeout_s=settings.ui.request_timeout_s))
    return BioagentClient(InProcessBackend(settings=settings))
