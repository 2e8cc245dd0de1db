"""The HTTP backend: a running ``bioagent serve`` (the endpoints of /work/API_CONTRACT.md, documented in
docs/api.md), bearer-key authenticated, its run stream read as Server-Sent Events. Same methods as
ui/backend_local.py; the server calls the same core functions the in-process backend calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from agent.events import RunOverrides, RunResult, TraceEvent
from agent.kb.models import Hit
from ui.backend_local import document_row
from ui.client_errors import ClientError, http_error


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


def to_event(event_name: str, data: str) -> TraceEvent | None:
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


def _hit(raw: dict) -> Hit:
    data = dict(raw)
    data.setdefault("chunk_id", data.get("id") or f"{data.get('doc_id')}#?")
    data.setdefault("score", 0.0)
    return Hit.model_validate({k: v for k, v in data.items() if k in Hit.model_fields})


async def sign_in(api_url: str, username: str, password: str, *, transport: Any = None) -> dict:
    """POST /v1/auth/token: ``{"api_key", "user"}`` for a username and password (ClientError when refused)."""
    import httpx

    async with httpx.AsyncClient(base_url=api_url.rstrip("/"), transport=transport, timeout=30.0) as client:
        try:
            response = await client.post("/v1/auth/token", json={"username": username, "password": password})
        except httpx.HTTPError as exc:
            raise ClientError("err.unreachable_api", url=api_url, error=exc) from exc
    if response.status_code >= 400:
        raise http_error(response.status_code, response.text)
    return response.json()


class HTTPBackend:
    """A running ``bioagent serve``: JSON endpoints plus the SSE run stream."""

    mode = "http"

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

    def _unreachable(self, exc: BaseException) -> ClientError:
        return ClientError("err.unreachable_api", url=self.api_url, error=exc)

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise http_error(response.status_code, response.text)
        return response.json()

    # -- user ------------------------------------------------------------------------------------------------
    async def me(self) -> dict:
        return await self._request("GET", "/v1/me")

    async def set_preferences(self, prefs: dict) -> dict:
        return await self._request("PUT", "/v1/me/preferences", json=prefs)

    # -- runs and threads ------------------------------------------------------------------------------------
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
                    raise http_error(response.status_code, (await response.aread()).decode("utf-8", "replace"))
                pending: list[str] = []
                async for line in response.aiter_lines():
                    pending.append(line)
                    if line.strip():
                        continue
                    for event in filter(None, (to_event(n, d) for n, d in iter_sse(pending))):
                        yield event
                    pending = []
                for event in filter(None, (to_event(n, d) for n, d in iter_sse(pending))):
                    yield event
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    async def run(self, message: str, thread_id: str | None, overrides: RunOverrides | None) -> RunResult:
        payload = await self._request("POST", "/v1/runs", json=self._run_body(message, thread_id, overrides))
        return RunResult.model_validate(payload.get("result", payload) if "answer" not in payload else payload)

    async def threads(self) -> list[dict]:
        payload = await self._request("GET", "/v1/threads")
        return list(payload.get("threads", []) if isinstance(payload, dict) else payload or [])

    async def history(self, thread_id: str) -> list[dict]:
        payload = await self._request("GET", f"/v1/threads/{thread_id}")
        if isinstance(payload, dict):
            payload = payload.get("messages", payload.get("history", []))
        return list(payload or [])

    async def delete_thread(self, thread_id: str) -> dict:
        return await self._request("DELETE", f"/v1/threads/{thread_id}")

    # -- sequences -------------------------------------------------------------------------------------------
    async def analyze_sequence(self, text: str, scan: bool) -> dict:
        return await self._request("POST", "/v1/sequence/analyze", json={"sequence": text, "scan": scan})

    async def genome(self, text: str, circular: bool | None, with_map: bool) -> dict:
        return await self._request("POST", "/v1/sequence/genome",
                                   json={"sequence": text, "circular": circular, "map": with_map})

    async def report(self, sequence_text: str, lang: str, scan: bool, literature: bool) -> dict:
        return await self._request("POST", "/v1/sequence/report", json={"sequence": sequence_text, "lang": lang,
                                                                        "scan": scan, "literature": literature})

    async def readiness(self) -> dict:
        import httpx

        try:
            response = await self._client.get("/readyz")
        except httpx.HTTPError as exc:
            return {"api": {"ok": False, "detail": f"{self.api_url} unreachable: {exc}"}}
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        return {"api": {"ok": response.status_code < 500 or bool(payload), "detail": self.api_url}, "_body": payload}

    # -- library ---------------------------------------------------------------------------------------------
    async def start_ingest(self, files: list[tuple[str, bytes]], shared: bool) -> str:
        data = {"shared": "true"} if shared else None
        payload = await self._request("POST", "/v1/ingest", files=[("files", (n, b)) for n, b in files], data=data)
        return str(payload["job_id"])

    async def job(self, job_id: str) -> dict:
        return await self._request("GET", f"/v1/jobs/{job_id}")

    async def list_documents(self, scope: str) -> list[dict]:
        payload = await self._request("GET", "/v1/documents", params={"scope": scope})
        return [document_row(d) for d in payload.get("documents", [])]

    async def search(self, query: str, k: int, filters: dict | None) -> list[Hit]:
        payload = await self._request("POST", "/v1/documents/search",
                                      json={"query": query, "k": k, "filters": filters})
        return [_hit(h) for h in payload.get("hits", [])]

    async def remove(self, doc_id: str) -> dict:
        return await self._request("DELETE", f"/v1/documents/{doc_id}")

    async def stats(self) -> dict:
        return await self._request("GET", "/v1/documents/stats")

    async def aclose(self) -> None:
        await self._client.aclose()
