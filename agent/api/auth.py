"""Who is calling: bearer API keys of users (``bioagent users add``) and the admin key of the settings.

- ``BIOAGENT_API__API_KEY`` is an admin key (user ``admin``), as before users existed.
- Per-user keys are checked against their salted hashes in the account store (:mod:`agent.api.accounts`).
- Without any key configured (no settings key, no users) the app refuses to start unless
  ``BIOAGENT_API__AUTH_DISABLED=true`` says, explicitly, that unauthenticated access is wanted (local use); every
  caller is then the admin ``local``.
- ``/healthz`` and ``/readyz`` never need a key (probes); ``/readyz`` shows failure details only to callers with
  one. ``/metrics`` takes an admin key or the scrape token ``BIOAGENT_API__METRICS_TOKEN`` (or is public with
  ``BIOAGENT_API__METRICS_PUBLIC=true``, or served on ``BIOAGENT_API__METRICS_PORT``).

The middleware authenticates once per request and leaves the :class:`User` in ``scope["state"]["user"]``.
"""

from __future__ import annotations

import secrets

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.api.accounts import AccountStore, User
from agent.api.errors import APIError
from agent.settings import Settings

ADMIN = "admin"
LOCAL = "local"


class AuthConfigError(RuntimeError):
    """The API was asked to start without any key and without auth explicitly disabled."""


bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="bearer",
    description="`Authorization: Bearer <key>`: a user's key (`bioagent users add`) or BIOAGENT_API__API_KEY (admin).",
)


def _secret(value) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def check_auth_config(settings: Settings, accounts: AccountStore | None = None) -> None:
    if settings.api.auth_disabled or _secret(settings.api.api_key):
        return
    if accounts is not None and accounts.list_users():
        return
    raise AuthConfigError(
        "The API needs a key: set BIOAGENT_API__API_KEY (an admin key; clients send `Authorization: Bearer <key>`) "
        "or add users with `bioagent users add NAME`, or set BIOAGENT_API__AUTH_DISABLED=true to serve without "
        "authentication (local use only)."
    )


def _token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authenticate(settings: Settings, accounts: AccountStore | None, authorization: str | None) -> User | None:
    """The user a raw ``Authorization`` header belongs to, or None."""
    if settings.api.auth_disabled:
        return _stored(accounts, LOCAL)
    token = _token(authorization)
    if not token:
        return None
    admin_key = _secret(settings.api.api_key)
    if admin_key and secrets.compare_digest(token.encode("utf-8"), admin_key.encode("utf-8")):
        return _stored(accounts, ADMIN)
    return accounts.authenticate_key(token) if accounts is not None else None


def _stored(accounts: AccountStore | None, name: str) -> User:
    """The built-in admin (settings key or auth disabled), with the preferences stored for it, if any."""
    user = accounts.get_user(name) if accounts is not None else None
    return User(name, "admin", user.preferences) if user is not None else User(name, "admin")


def is_metrics_token(settings: Settings, authorization: str | None) -> bool:
    token, expected = _token(authorization), _secret(settings.api.metrics_token)
    return bool(token and expected) and secrets.compare_digest(token.encode("utf-8"), expected.encode("utf-8"))


def _unauthorized() -> APIError:
    return APIError(401, "Missing or invalid API key: send `Authorization: Bearer <key>`.",
                    type="authentication_error", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def user_of(request: Request) -> User | None:
    user = request.scope.get("state", {}).get("user")
    if user is None:
        ctx = request.app.state.ctx
        user = authenticate(ctx.settings, ctx.accounts, request.headers.get("authorization"))
    return user


async def require_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme)
) -> User:
    user = user_of(request)
    if user is None:
        raise _unauthorized()
    return user


async def optional_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme)
) -> User | None:
    return user_of(request)


# Kept for the routes that only need "some valid key".
require_api_key = require_user
