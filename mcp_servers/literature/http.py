"""HTTP plumbing shared by the PubMed and Europe PMC clients.

- httpx with a short connect timeout and the read timeout from settings;
- tenacity retries with exponential backoff on 429, 5xx, read timeouts and dropped connections,
  honouring ``Retry-After`` (a wait longer than ``max_backoff_s`` fails at once instead of hanging);
- no retry when the host cannot be reached at all (DNS failure, refused, connect timeout): the caller
  gets ``RemoteUnavailable("<Service> unreachable: <reason>")`` straight away;
- a per-host rate limiter (thread-safe, process-wide);
- an on-disk response cache (hishel's SQLite storage in ``data_dir/cache/literature``): fresh for
  ``cache_ttl_s``; expired entries are kept ``cache_stale_s`` longer and served, with a one-line
  "served from cache (offline)" warning, when the service cannot be reached (serve-stale-on-error); only
  responses that parsed are stored, so a malformed answer is never served again from disk.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from agent.settings import Settings
from mcp_servers.literature.errors import (
    LiteratureError,
    MalformedResponse,
    RateLimited,
    RemoteHTTPError,
    RemoteUnavailable,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = "bioagent/0.1 (literature client)"
# Parameters that identify the caller, never part of a cache key and never logged.
_PRIVATE_PARAMS = frozenset({"api_key", "email", "tool"})


class RateLimiter:
    """At most ``rate`` requests per second, spaced evenly, across threads."""

    def __init__(self, rate: float):
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.interval = 1.0 / rate
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self) -> float:
        """Block until a request may go; return the seconds waited."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        wait = start - now
        if wait > 0:
            time.sleep(wait)
        return wait


_limiters: dict[tuple[str, float], RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(key: str, rate: float) -> RateLimiter:
    """One limiter per (host, rate) for the whole process, so every client instance shares the budget."""
    with _limiters_lock:
        lim = _limiters.get((key, rate))
        if lim is None:
            lim = _limiters[(key, rate)] = RateLimiter(rate)
        return lim


STORED_AT = "x-bioagent-stored-at"


class ResponseCache:
    """Response bodies in hishel's SQLite storage (``data_dir/cache/literature/<service>.sqlite``): fresh for
    ``ttl_s``, then kept ``stale_s`` longer (hishel's storage TTL is the sum) to be served only when the service
    cannot be reached. The key leaves out the caller's identity (api_key, email, tool)."""

    def __init__(self, path: Path, ttl_s: float, stale_s: float = 0.0):
        self.path = Path(path)
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self._storage = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    @property
    def storage(self):
        if self._storage is None:
            with self._lock:
                if self._storage is None:
                    import hishel

                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._storage = hishel.SqliteStorage(database_path=self.path, default_ttl=self.ttl_s + self.stale_s)
        return self._storage

    @staticmethod
    def key(method: str, url: str, params: Mapping[str, Any] | None) -> str:
        items = sorted((k, str(v)) for k, v in (params or {}).items() if k not in _PRIVATE_PARAMS)
        raw = method.upper() + " " + url + "?" + "&".join(f"{k}={v}" for k, v in items)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def get(self, key: str, stale_ok: bool = False) -> bytes | None:
        """The newest stored body: fresh only, or (``stale_ok``) however old hishel still keeps it."""
        if not self.enabled:
            return None
        try:
            entries = self.storage.get_entries(key)
        except Exception as exc:  # noqa: BLE001 - a broken cache is a cache miss, never a failed request
            log.debug("literature cache read failed: %s", exc)
            return None
        best, best_at = None, -1.0
        for e in entries:
            at = float(e.response.headers.get(STORED_AT, "0") or 0)
            if at > best_at:
                best, best_at = e, at
        limit = self.ttl_s + (self.stale_s if stale_ok else 0)
        if best is None or time.time() - best_at > limit:
            return None
        return b"".join(best.response.stream or [])

    def put(self, key: str, method: str, url: str, body: bytes) -> None:
        if not self.enabled:
            return
        import hishel

        try:
            self.invalidate(key)
            headers = hishel.Headers({STORED_AT: repr(time.time()), "content-length": str(len(body))})
            entry = self.storage.create_entry(hishel.Request(method=method, url=url),
                                              hishel.Response(status_code=200, headers=headers, stream=iter([body])), key)
            for _ in entry.response.stream or []:  # hishel stores the body as the stream is read
                pass
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is no reason to fail the request
            log.debug("literature cache write failed: %s", exc)

    def invalidate(self, key: str) -> None:
        if not self.enabled:
            return
        for e in self.storage.get_entries(key):
            self.storage.remove_entry(e.id)

    def close(self) -> None:
        if self._storage is not None:
            self._storage.close()


@dataclass
class _Transient(Exception):
    """A failure worth retrying: 429, 5xx, read timeout or a dropped connection."""

    reason: str
    status: int | None = None
    retry_after: float | None = None
    timeout: bool = False

    def __str__(self) -> str:
        return self.reason


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _snippet(resp: httpx.Response, limit: int = 200) -> str:
    try:
        text = resp.text
    except Exception:  # noqa: BLE001 - undecodable bodies get no snippet
        return ""
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


class RemoteService:
    """One remote literature service: base URL, HTTP client, retries, rate limit and cache."""

    def __init__(
        self,
        name: str,
        base_url: str,
        settings: Settings,
        *,
        rate: float,
        cache_namespace: str,
        extra_params: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        lit = settings.literature
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.retries = lit.retries
        self.backoff_s = lit.backoff_s
        self.max_backoff_s = lit.max_backoff_s
        self.timeout_s = lit.timeout_s
        self.extra_params = dict(extra_params or {})
        host = httpx.URL(self.base_url).host or self.base_url
        self.limiter = shared_limiter(f"{host}:{httpx.URL(self.base_url).port}", rate)
        self.cache = ResponseCache(settings.cache_dir / "literature" / f"{cache_namespace}.sqlite", lit.cache_ttl_s,
                                   lit.cache_stale_s)
        self.served_stale = 0  # answers served from an expired cache entry because the service was unreachable
        headers = {"User-Agent": USER_AGENT + (f" mailto:{lit.ncbi_email}" if lit.ncbi_email else "")}
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 5.0)),
            headers=headers,
            follow_redirects=True,
            transport=transport,
        )
        self.requests_sent = 0  # real HTTP requests, retries included (for tests and diagnostics)

    def close(self) -> None:
        self._client.close()
        self.cache.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one attempt -------------------------------------------------------------------------------------
    def _attempt(self, method: str, url: str, params: dict[str, Any], data: dict[str, Any] | None) -> httpx.Response:
        self.limiter.acquire()
        self.requests_sent += 1
        try:
            resp = self._client.request(method, url, params=params if method == "GET" else None, data=data)
        except httpx.ConnectTimeout as exc:
            raise RemoteUnavailable(self.name, f"connection to {self._where(url)} timed out") from exc
        except httpx.TimeoutException as exc:
            raise _Transient(f"no answer within {self.timeout_s:g}s", timeout=True) from exc
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.ProxyError) as exc:
            raise RemoteUnavailable(self.name, f"{_exc_text(exc)} ({self._where(url)})") from exc
        except httpx.TransportError as exc:  # connection dropped mid-way: worth another try
            raise _Transient(f"connection error: {_exc_text(exc)}") from exc
        status = resp.status_code
        if status == 429 or status >= 500:
            raise _Transient(
                f"HTTP {status}", status=status, retry_after=parse_retry_after(resp.headers.get("Retry-After"))
            )
        if status >= 400:
            raise RemoteHTTPError(self.name, status, _snippet(resp))
        return resp

    def _where(self, url: str) -> str:
        u = httpx.URL(url)
        return f"{u.scheme}://{u.host}" + (f":{u.port}" if u.port else "")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(self.max_backoff_s, self.backoff_s * (2 ** (state.attempt_number - 1)))
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return max(exc.retry_after, 0.0)
        return backoff

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        log.warning(
            "%s: %s; retrying in %.2fs (attempt %d of %d)",
            self.name, exc, wait, state.attempt_number, self.retries + 1,
        )

    # -- public --------------------------------------------------------------------------------------------
    def request(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        parse: Callable[[bytes], T],
        method: str = "GET",
        use_cache: bool = True,
    ) -> T:
        """Send a request (cached, rate-limited, retried) and return ``parse(body)``.

        ``parse`` must raise ``MalformedResponse`` (or another ``LiteratureError``) for a body it cannot read;
        any other exception it raises is reported as a malformed response too.
        """
        url = f"{self.base_url}/{path.lstrip('/')}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        key = ResponseCache.key(method, url, query)
        public_url = str(httpx.URL(url, params={k: v for k, v in query.items() if k not in _PRIVATE_PARAMS}))
        if use_cache:
            cached = self.cache.get(key)
            if cached is not None:
                try:
                    return self._parse(parse, cached)
                except LiteratureError:
                    self.cache.invalidate(key)
        query = {**query, **self.extra_params}
        data = query if method == "POST" else None
        try:
            body = self._send(method, url, query, data)
        except (RemoteUnavailable, RateLimited, RemoteHTTPError) as exc:
            if not isinstance(exc, (RemoteUnavailable, RateLimited)) and (exc.status or 0) < 500:
                raise  # the service answered: a bad request is not helped by an old answer
            stale = self.cache.get(key, stale_ok=True) if use_cache else None
            if stale is None:
                raise
            try:
                result = self._parse(parse, stale)
            except LiteratureError:
                raise exc from None
            self.served_stale += 1
            log.warning("%s: served from cache (offline): %s", self.name, exc)
            return result
        result = self._parse(parse, body)
        if use_cache:
            self.cache.put(key, method, public_url, body)
        return result

    def _parse(self, parse: Callable[[bytes], T], body: bytes) -> T:
        try:
            return parse(body)
        except LiteratureError:
            raise
        except Exception as exc:  # noqa: BLE001 - a parser bug on odd input is still "malformed", not a crash
            raise MalformedResponse(self.name, f"{type(exc).__name__}: {exc}") from exc

    def _send(self, method: str, url: str, params: dict[str, Any], data: dict[str, Any] | None) -> bytes:
        def stop_or_too_long(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Transient) and exc.retry_after is not None and exc.retry_after > self.max_backoff_s:
                return True
            return stop_after_attempt(self.retries + 1)(state)

        retrying = Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_or_too_long,
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    resp = self._attempt(method, url, params, data)
        except _Transient as exc:
            raise self._final_error(exc, attempts) from exc
        return resp.content

    def _final_error(self, exc: _Transient, attempts: int) -> LiteratureError:
        if exc.timeout:
            return RemoteUnavailable(self.name, f"{exc.reason} ({attempts} attempt{'s' if attempts > 1 else ''})")
        if exc.status == 429:
            return RateLimited(self.name, attempts, exc.retry_after)
        if exc.status is not None:
            return RemoteHTTPError(self.name, exc.status, "server error", attempts)
        return RemoteUnavailable(self.name, f"{exc.reason} ({attempts} attempts)")


def _exc_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


class RemoteClient:
    """Base of the service clients: owns a ``RemoteService`` and closes it (usable as a context manager)."""

    http: RemoteService

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
