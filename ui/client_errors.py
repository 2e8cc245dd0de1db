"""Readable errors of the UI's client, in the user's language: a :class:`ClientError` carries a text key of
ui/i18n_text.py and its parameters; ``str(exc)`` is the English text, ``exc.text(lang)`` any language."""

from __future__ import annotations

import json
from typing import Any

from ui.i18n import t


class ClientError(RuntimeError):
    """A failure worth showing to the researcher as it is (already readable)."""

    def __init__(self, key: str, **params: Any):
        self.key = key
        self.params = {k: str(v) for k, v in params.items()}
        super().__init__(t(key, "en", **self.params))

    def text(self, lang: str | None = None) -> str:
        return t(self.key, lang, **self.params)


def describe(exc: BaseException) -> ClientError:
    """The ClientError for any exception, with what to do about it where that is known."""
    if isinstance(exc, ClientError):
        return exc
    name = type(exc).__name__
    text = str(exc).strip() or name
    if type(exc).__module__.startswith(("agent.", "mcp_servers.")):
        return ClientError("err.core", error=text)  # bioagent's own errors are written for the user
    lowered = f"{name} {text}".lower()
    connection_markers = ("connecterror", "connectionerror", "apiconnectionerror", "connection refused",
                          "connecttimeout", "all connection attempts failed", "name or service not known")
    if any(marker in lowered for marker in connection_markers):
        return ClientError("err.unreachable_llm", error=text)
    if "timeout" in lowered:
        return ClientError("err.timeout", error=text)
    if isinstance(exc, ValueError):
        return ClientError("err.invalid", error=text)
    return ClientError("err.other", name=name, error=text)


def describe_error(exc: BaseException, lang: str | None = None) -> str:
    """One readable sentence (or two) for an exception, in ``lang`` (default: the session's)."""
    return describe(exc).text(lang)


def http_error(status: int, body: str) -> ClientError:
    """The ClientError for an API error answer (bioagent's {"error": {...}} body or FastAPI's {"detail": ...})."""
    detail: Any = body
    try:
        payload = json.loads(body)
    except (ValueError, TypeError):
        payload = None
    if isinstance(payload, dict):
        detail = payload.get("error", payload.get("detail", payload))
    if isinstance(detail, list):  # FastAPI 422: [{"loc": [...], "msg": ...}]
        detail = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:]) or 'input'}: {d.get('msg', d)}"
            if isinstance(d, dict) else str(d) for d in detail
        )
    elif isinstance(detail, dict):
        field = detail.get("field")
        message = detail.get("message") or json.dumps(detail)
        detail = f"{field}: {message}" if field and str(field) not in str(message) else message
    detail = str(detail)[:600]
    if status in (401, 403):
        return ClientError("err.auth", status=status, detail=detail)
    if status == 404:
        return ClientError("err.not_found", detail=detail)
    if status == 413:
        return ClientError("err.too_large", detail=detail)
    if status == 422:
        return ClientError("err.rejected", detail=detail)
    if status in (429, 503):
        return ClientError("err.busy", status=status, detail=detail)
    return ClientError("err.status", status=status, detail=detail)
