"""Bearer API key.

The key is ``BIOAGENT_API__API_KEY``. Without a key the app refuses to start unless
``BIOAGENT_API__AUTH_DISABLED=true`` says, explicitly, that unauthenticated access is wanted (local use).
``/healthz`` and ``/readyz`` never need the key (probes); ``/readyz`` shows failure details only to callers
that present it. ``/metrics`` needs the key unless ``BIOAGENT_API__METRICS_PUBLIC=true``.
"""

from __future__ import annotations

import secrets

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.api.errors import APIError
from agent.settings import Settings


class AuthConfigError(RuntimeError):
    """The API was asked to start without a key and without auth explicitly disabled."""


bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="`Authorization: Bearer <BIOAGENT_API__API_KEY>`"
)


def check_auth_config(settings: Settings) -> None:
    api = settings.api
    if api.auth_disabled:
        return
    key = api.api_key.get_secret_value() if api.api_key is not None else ""
    if not key.strip():
        raise AuthConfigError(
            "The API needs a key: set BIOAGENT_API__API_KEY (clients send `Authorization: Bearer <key>`), "
            "or set BIOAGENT_API__AUTH_DISABLED=true to serve without authentication (local use only)."
        )


def is_authorized(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> bool:
    api = settings.api
    if api.auth_disabled:
        return True
    if credentials is None or api.api_key is None:
        return False
    return secrets.compare_digest(
        credentials.credentials.encode("utf-8"), api.api_key.get_secret_value().encode("utf-8")
    )


def authorized_header(settings: Settings, authorization: str | None) -> bool:
    """The same check on a raw ``Authorization`` header (for the middleware that runs before the body is read)."""
    if settings.api.auth_disabled:
        return True
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    return is_authorized(settings, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token.strip()))


async def require_api_key(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme)
) -> None:
    if not is_authorized(request.app.state.ctx.settings, credentials):
        raise APIError(
            401,
            "Missing or invalid API key: send `Authorization: Bearer <key>`.",
            type="authentication_error",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def optional_api_key(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme)
) -> bool:
    return is_authorized(request.app.state.ctx.settings, credentials)
