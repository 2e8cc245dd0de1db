"""The UI's one way to reach bioagent: a synchronous client over two interchangeable backends with the same
methods.

- :class:`~ui.backend_local.InProcessBackend`: the agent core (AgentService, knowledge base, sequence core) in this
  process, with a per-user thread index and preferences (ui/user_store.py).
- :class:`~ui.backend_http.HTTPBackend`: a running ``bioagent serve`` (``UISettings.api_url``), signed in with a
  user's key, which calls the same core functions on the server.

Both are async; :class:`BioagentClient` runs them on one private event loop in a background thread, so the
Streamlit pages (plain synchronous scripts) call ``client.stream(...)`` and iterate trace events as they arrive.
The pages never reimplement agent logic: everything they show comes through here.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from agent.events import RunOverrides, RunResult, TraceEvent
from agent.kb.models import Hit
from ui.backend_http import HTTPBackend, iter_sse, sign_in
from ui.backend_local import InProcessBackend
from ui.client_errors import ClientError, describe, describe_error
from ui.sequence_core import page_data

__all__ = ["BioagentClient", "ClientError", "HTTPBackend", "InProcessBackend", "describe_error", "iter_sse",
           "make_client", "normalize_readiness", "sign_in_with_password"]

ProgressFn = Callable[[int, int, str], None]
JOB_POLL_S = 0.5


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

    def _call(self, coro: Any) -> Any:
        try:
            return self._loop.call(coro)
        except ClientError:
            raise
        except Exception as exc:
            raise describe(exc) from exc

    # -- user ------------------------------------------------------------------------------------------------
    def me(self) -> dict:
        """``{"user", "role", "preferences": {"lang"}}`` of the signed-in user (in-process: the local user)."""
        return self._call(self.backend.me())

    def set_preferences(self, **prefs: Any) -> dict:
        return self._call(self.backend.set_preferences(prefs))

    # -- runs and threads ------------------------------------------------------------------------------------
    def stream(self, message: str, thread_id: str | None = None,
               overrides: RunOverrides | None = None) -> Iterator[TraceEvent]:
        """Trace events as they happen; the last one is ``done`` (its data is the RunResult)."""
        try:
            yield from self._loop.iterate(lambda: self.backend.stream(message, thread_id, overrides))
        except ClientError:
            raise
        except Exception as exc:
            raise describe(exc) from exc

    def run(self, message: str, thread_id: str | None = None, overrides: RunOverrides | None = None) -> RunResult:
        return self._call(self.backend.run(message, thread_id, overrides))

    def threads(self) -> list[dict]:
        """The user's threads, newest first: ``[{"thread_id", "title", "updated_at"}]``."""
        return self._call(self.backend.threads())

    def history(self, thread_id: str) -> list[dict]:
        return self._call(self.backend.history(thread_id))

    def delete_thread(self, thread_id: str) -> dict:
        return self._call(self.backend.delete_thread(thread_id))

    def readiness(self) -> dict[str, dict]:
        try:
            raw = self._loop.call(self.backend.readiness(), timeout=60)
        except Exception as exc:
            return {"core": {"ok": False, "detail": describe_error(exc)}}
        body = raw.pop("_body", None)
        out = {k: v for k, v in raw.items() if k == "api"}
        out.update(normalize_readiness(body if body is not None else raw))
        return out

    # -- sequences -------------------------------------------------------------------------------------------
    def analyze_sequence(self, text: str, scan: bool = True) -> dict:
        """The sequence page's data (ui/sequence_core.py's shape), with ``genome`` when the input is DNA."""
        if not text or not text.strip():
            raise ClientError("err.empty_sequence")
        raw = self._call(self.backend.analyze_sequence(text, scan))
        try:
            return page_data(raw)
        except ValueError:
            raise ClientError("err.no_protein") from None

    def genome(self, text: str, circular: bool | None = None, with_map: bool = True) -> dict:
        """annotate_genome's records (+ ``map_png_base64``) for a DNA input."""
        return self._call(self.backend.genome(text, circular, with_map))

    def report(self, sequence_text: str, lang: str = "en", *, scan: bool = True, literature: bool = True) -> dict:
        return self._call(self.backend.report(sequence_text, lang, scan, literature))

    # -- library ---------------------------------------------------------------------------------------------
    def ingest(self, files: list[tuple[str, bytes]], progress: ProgressFn | None = None, *,
               shared: bool = False, timeout_s: float = 3600.0) -> dict:
        """Ingest files as one job and wait for it, calling ``progress(done, total, last_file)`` in the caller's
        thread as it advances. Returns the job: ``{"state", "results": [{"file", "doc_id"?, "chunks"?,
        "error"?}]}`` (one file failing does not stop the others)."""
        job_id = self._call(self.backend.start_ingest(files, shared))
        deadline = time.monotonic() + timeout_s
        seen = -1
        while True:
            job = self._call(self.backend.job(job_id))
            done = int((job.get("progress") or {}).get("done") or 0)
            total = int((job.get("progress") or {}).get("total") or len(files))
            if progress and done != seen:
                results = job.get("results") or []
                progress(done, total, str(results[-1].get("file", "")) if results else "")
                seen = done
            if job.get("state") not in ("queued", "running"):
                break
            if time.monotonic() > deadline:
                raise ClientError("err.job_failed", job=job_id, state="timeout", detail=f"{timeout_s:.0f} s")
            time.sleep(JOB_POLL_S)
        if job.get("state") != "done":
            raise ClientError("err.job_failed", job=job_id, state=job.get("state"), detail=job.get("error") or "")
        return job

    def list_documents(self, scope: str = "all") -> list[dict]:
        """``[{"id", "title", "source", "year", "doi", "chunks", "owner", "shared", "added"}]``."""
        return self._call(self.backend.list_documents(scope))

    def search(self, query: str, k: int = 6, filters: dict | None = None) -> list[Hit]:
        return self._call(self.backend.search(query, k, filters))

    def remove(self, doc_id: str) -> dict:
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


def sign_in_with_password(api_url: str, username: str, password: str) -> dict:
    """``{"api_key", "user"}`` from POST /v1/auth/token (ClientError when refused or unreachable)."""
    try:
        return asyncio.run(sign_in(api_url, username, password))
    except ClientError:
        raise
    except Exception as exc:
        raise describe(exc) from exc


def configured_key(settings: Any) -> str | None:
    secret = settings.ui.api_key or settings.api.api_key
    return secret.get_secret_value() if secret is not None else None


def make_client(settings: Any = None, *, api_url: str | None = None, api_key: str | None = None) -> BioagentClient:
    """The client the settings ask for: the HTTP API when ``ui.api_url`` (or ``api_url``) is set, else in-process."""
    if settings is None:
        from agent.settings import get_settings

        settings = get_settings()
    url = api_url or settings.ui.api_url
    if url:
        key = api_key if api_key is not None else configured_key(settings)
        return BioagentClient(HTTPBackend(url, key, timeout_s=settings.ui.request_timeout_s))
    return BioagentClient(InProcessBackend(settings=settings))
