"""Who am I, my preferences, password sign-in, and my threads (``/v1/me``, ``/v1/auth/token``, ``/v1/threads``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Path as PathParam, Request

from agent.api.accounts import User
from agent.api.auth import require_user
from agent.api.errors import ERROR_RESPONSES, APIError
from agent.api.resources import Me, PasswordLogin, Preferences, ThreadDeleted, ThreadInfo, ThreadList, TokenResponse
from agent.api.routes import ctx_of
from agent.api.runtime import not_found
from agent.api.schemas import THREAD_ID_PATTERN, ThreadResponse

router = APIRouter(prefix="/v1", dependencies=[Depends(require_user)], responses=ERROR_RESPONSES)
public = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
THREAD_ID = PathParam(..., pattern=THREAD_ID_PATTERN)


def _me(user: User) -> Me:
    return Me(user=user.name, role=user.role, preferences=Preferences.model_validate(
        {k: v for k, v in user.preferences.items() if k in Preferences.model_fields}))


@router.get("/me", response_model=Me, summary="The signed-in user, role and preferences")
async def me(user: User = Depends(require_user)) -> Me:
    return _me(user)


@router.put("/me/preferences", response_model=Me, summary="Store the user's preferences (language)")
async def set_preferences(body: Preferences, request: Request, user: User = Depends(require_user)) -> Me:
    stored = await asyncio.to_thread(ctx_of(request).accounts.set_preferences, user.name, body.model_dump())
    return _me(User(user.name, user.role, stored.preferences))


@public.post("/auth/token", response_model=TokenResponse, summary="Sign in with a password; returns a new API key",
             tags=["users"])
async def token(body: PasswordLogin, request: Request) -> TokenResponse:
    """For users created with `bioagent users add NAME --password`. Each sign-in issues a new key (shown once)."""
    accounts = ctx_of(request).accounts
    user = await asyncio.to_thread(accounts.check_password, body.username, body.password)
    if user is None:
        raise APIError(401, "Wrong user name or password.", type="authentication_error", code="invalid_credentials")
    key = await asyncio.to_thread(accounts.new_key, user.name)
    return TokenResponse(api_key=key, user=user.name)


# -- threads --------------------------------------------------------------------------------------------------


def owned_thread(request: Request, user: User, thread_id: str) -> None:
    if ctx_of(request).accounts.thread_owner(thread_id) != user.name:
        raise APIError(404, f"No conversation with thread id {thread_id!r}.", type="not_found_error",
                       code="thread_not_found")


@router.get("/threads", response_model=ThreadList, summary="The user's conversations, most recent first")
async def list_threads(request: Request, user: User = Depends(require_user)) -> ThreadList:
    rows = ctx_of(request).accounts.list_threads(user.name)
    return ThreadList(threads=[ThreadInfo(**r) for r in rows])


@router.get("/threads/{thread_id}", response_model=ThreadResponse, summary="Conversation history of a thread",
            responses={404: {"description": "No such thread (or not yours)."}})
async def get_thread(request: Request, thread_id: str = THREAD_ID, user: User = Depends(require_user)) -> ThreadResponse:
    ctx = ctx_of(request)
    owner = ctx.accounts.thread_owner(thread_id)
    if owner is None and not user.is_admin or owner is not None and owner != user.name:
        owned_thread(request, user, thread_id)  # raises the 404
    messages = await ctx.service.history(thread_id)
    if not messages:
        raise APIError(404, f"No conversation with thread id {thread_id!r}.", type="not_found_error",
                       code="thread_not_found")
    return ThreadResponse(thread_id=thread_id, messages=messages)


@router.delete("/threads/{thread_id}", response_model=ThreadDeleted, summary="Delete a conversation",
               responses={404: {"description": "No such thread (or not yours)."}})
async def delete_thread(request: Request, thread_id: str = THREAD_ID,
                        user: User = Depends(require_user)) -> ThreadDeleted:
    ctx = ctx_of(request)
    owned_thread(request, user, thread_id)
    service = ctx.service
    ensure = getattr(service, "start", None)
    if ensure is not None:
        await ensure()
    saver = getattr(getattr(service, "graph", None), "checkpointer", None)
    if saver is None:
        raise not_found("thread", thread_id)
    await saver.adelete_thread(thread_id)
    ctx.accounts.delete_thread(thread_id)
    return ThreadDeleted(deleted=thread_id)
