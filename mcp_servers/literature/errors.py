"""Errors of the literature layer. Every message is written for a person (or an LLM) to read as it is."""

from __future__ import annotations


class LiteratureError(Exception):
    """Base class: anything that went wrong talking to a literature service or the library."""


class LiteratureInputError(LiteratureError, ValueError):
    """The caller's input cannot be used (bad PMID, empty query, bad date)."""


class RemoteUnavailable(LiteratureError):
    """The service could not be reached at all (no network, DNS failure, refused, timed out).

    The message always reads ``"<Service> unreachable: <reason>"``.
    """

    def __init__(self, service: str, reason: str):
        self.service = service
        self.reason = reason
        super().__init__(f"{service} unreachable: {reason}")


class RemoteHTTPError(LiteratureError):
    """The service answered with an HTTP error (after retries, for 429/5xx)."""

    def __init__(self, service: str, status: int, detail: str = "", attempts: int = 1):
        self.service = service
        self.status = status
        self.attempts = attempts
        msg = f"{service} answered HTTP {status}"
        if attempts > 1:
            msg += f" after {attempts} attempts"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class RateLimited(RemoteHTTPError):
    """HTTP 429 that persisted through the retries, or asked for a longer wait than allowed."""

    def __init__(self, service: str, attempts: int = 1, retry_after: float | None = None, detail: str = ""):
        self.retry_after = retry_after
        if not detail:
            detail = "rate limit exceeded"
            if retry_after is not None:
                detail += f"; the service asks to retry after {retry_after:g}s"
        super().__init__(service, 429, detail, attempts)


class MalformedResponse(LiteratureError):
    """The service answered 200 but the body is not the XML/JSON it should be."""

    def __init__(self, service: str, detail: str):
        self.service = service
        self.detail = detail
        super().__init__(f"{service} returned a malformed response: {detail}")


class RemoteQueryError(LiteratureError):
    """The service understood the request and reported an error in its body (e.g. an E-utilities <ERROR>)."""

    def __init__(self, service: str, detail: str):
        self.service = service
        self.detail = detail
        super().__init__(f"{service} reported an error: {detail}")
