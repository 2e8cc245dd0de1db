"""Error bodies of the HTTP API.

Every error has the same envelope, shaped like OpenAI's so that OpenAI clients surface the message:

    {"error": {"type": "...", "message": "...", "code": "...", "request_id": "..."}, "detail": ...}

``detail`` is kept for validation errors (FastAPI's field list: ``loc``, ``msg``, ``type``) and mirrors the
message otherwise. Internal errors are 500 with the request id and a generic message, never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("agent.api")


class APIError(Exception):
    """An error the API answers with a given status and a message meant for the client."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        headers: dict[str, str] | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.type = type
        self.code = code
        self.headers = headers
        self.detail = detail


class ErrorInfo(BaseModel):
    type: str
    message: str
    code: str | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo
    detail: Any = Field(None, description="Field-level errors for 422 (loc, msg, type); the message otherwise.")


# For the OpenAPI schema of every route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong API key."},
    429: {"model": ErrorResponse, "description": "Too many runs in flight."},
    500: {"model": ErrorResponse, "description": "Internal error (the body carries the request id)."},
    503: {"model": ErrorResponse, "description": "A dependency (the LLM endpoint) is unavailable."},
}


def request_id_of(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def error_body(
    type: str, message: str, *, request_id: str | None, code: str | None = None, detail: Any = None
) -> dict[str, Any]:
    return {
        "error": {"type": type, "message": message, "code": code, "request_id": request_id},
        "detail": message if detail is None else detail,
    }


def error_response(
    request: Request,
    status_code: int,
    type: str,
    message: str,
    *,
    code: str | None = None,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = error_body(type, message, request_id=request_id_of(request), code=code, detail=detail)
    return JSONResponse(jsonable_encoder(body), status_code=status_code, headers=headers)


def _field_name(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc)


def validation_detail(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI/pydantic errors reduced to what a client needs: where, what, which kind (no input echo)."""
    out = []
    for err in errors:
        loc = list(err.get("loc", ()))
        out.append({"loc": loc, "field": _field_name(loc), "msg": err.get("msg", ""), "type": err.get("type", "")})
    return out


def validation_error(loc: list[str | int], msg: str, type: str = "value_error") -> APIError:
    """A 422 raised by handler code, shaped like the framework's own validation errors."""
    detail = [{"loc": loc, "field": _field_name(loc), "msg": msg, "type": type}]
    return APIError(422, f"{_field_name(loc)}: {msg}", type="validation_error", detail=detail)


def install_error_handlers(app, llm_unavailable: type[BaseException], ingest_error: type[BaseException]) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return error_response(
            request, exc.status_code, exc.type, exc.message, code=exc.code, detail=exc.detail, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        detail = validation_detail(list(exc.errors()))
        message = "; ".join(f"{d['field']}: {d['msg']}" for d in detail) or "Invalid request."
        return error_response(request, 422, "validation_error", message, detail=detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        kinds = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 413: "request_too_large"}
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        return error_response(
            request, exc.status_code, kinds.get(exc.status_code, "invalid_request_error"), message,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(llm_unavailable)
    async def _llm_down(request: Request, exc: BaseException):
        log.warning("LLM unavailable (request %s): %s", request_id_of(request), exc)
        return error_response(request, 503, "llm_unavailable", str(exc) or "The LLM endpoint is unavailable.",
                              code="llm_unavailable")

    @app.exception_handler(ingest_error)
    async def _ingest(request: Request, exc: BaseException):
        return error_response(request, 422, "ingest_error", str(exc) or "The file could not be ingested.",
                              code="ingest_error")
