"""An OpenAI-compatible facade over the agent: ``POST /v1/chat/completions`` and ``GET /v1/models``.

- The question is the last ``user`` message. Without a ``thread_id`` the request's whole ``messages`` list is
  the conversation, as OpenAI clients expect: the messages before the question (system prompt included) become
  the history of a new thread, which the agent reads like any earlier turns. With ``thread_id`` in the body
  (``extra_body={"thread_id": ...}`` with the openai client) or the ``X-Thread-Id`` header, the conversation is
  that stored thread's and earlier messages in the request are not replayed. The thread id comes back in the
  ``X-Thread-Id`` header and in ``bioagent.thread_id``.
- ``system`` (and ``developer``) messages are the run's additional instructions (``RunOverrides.instructions``),
  with or without ``thread_id``: in guarded and agentic modes they are added to the answer model's system prompt
  after bioagent's own rules (cite only what was retrieved); evidence mode writes no text with a model, and the
  ``answer`` step of the trace says that they were not used.
- ``temperature``, ``top_p`` and ``max_tokens``/``max_completion_tokens`` become run overrides; ``overrides``
  (extra body field) sets the others (``max_rounds``, ``k``...). Other OpenAI parameters are ignored.
- Non-streaming: a ``chat.completion`` whose ``bioagent`` field is the whole RunResult (citations, passages,
  tool results, trace).
- Streaming: the content is exactly the non-streamed content (the checked answer), sent in pieces when the run
  has checked it; a last chunk with ``finish_reason: "stop"`` whose ``bioagent`` field is the RunResult (the
  trace), a usage chunk if ``stream_options.include_usage``, then ``data: [DONE]``. ``stream_draft: true``
  (extra body) sends the answer model's tokens as they come instead, then the checked answer if it differs. A failure after the stream started is an
  ``{"error": {...}}`` event (which the openai client raises as an APIError).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent.api.accounts import User
from agent.api.auth import require_user
from agent.api.errors import ERROR_RESPONSES, validation_error
from agent.api.routes import await_run, check_message, ctx_of, dumps, stream_error_data
from agent.api.schemas import (
    THREAD_ID_PATTERN,
    ChatChoice,
    ChatCompletionMessage,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatUsage,
    ModelCard,
    ModelList,
)
from agent.events import INSTRUCTIONS_MAX_CHARS, RunOverrides, RunResult

MODEL_ID = "bioagent"

router = APIRouter(prefix="/v1", dependencies=[Depends(require_user)], responses=ERROR_RESPONSES,
                   tags=["openai"])


CHECKED_HEADING = {
    "en": "**Checked answer** (citations verified against the retrieved passages and tool results):",
    "zh": "**核对后的回答**（引用已与检索到的段落和工具结果核对）：",
}


def _closing_text(streamed: str, answer: str, language: str | None) -> str:
    """What to send after the draft tokens so that the reader ends with the checked answer.

    The tokens are the answer model's draft; the run's answer is the checked one (invalid citations removed, or
    an extractive answer when the draft failed the checks). If the answer merely extends the draft, the rest is
    sent; if it differs, it follows the draft under a heading; if nothing was streamed, it is the whole content.
    """
    if not answer or answer == streamed:
        return ""
    if answer.startswith(streamed):
        return answer[len(streamed):]
    heading = CHECKED_HEADING.get(language or "en", CHECKED_HEADING["en"])
    return f"\n\n---\n{heading}\n\n{answer}"


PIECE_CHARS = 24


def _pieces(text: str) -> list[str]:
    """The checked answer in word-aligned pieces of about ``PIECE_CHARS`` characters (they join to ``text``)."""
    out, cur = [], ""
    for word in text.split(" "):
        cur = f"{cur} {word}" if cur or out else word
        if len(cur) >= PIECE_CHARS:
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def _with_instructions(body: ChatCompletionRequest, overrides: RunOverrides | None) -> RunOverrides | None:
    """The request's ``system``/``developer`` messages become the run's ``instructions`` (added to the answer
    model's system prompt in guarded and agentic modes), unless ``overrides.instructions`` is given."""
    parts = [(i, m.text().strip()) for i, m in enumerate(body.messages) if m.role in ("system", "developer")]
    text = "\n\n".join(t for _, t in parts if t)
    if not text or (overrides is not None and overrides.instructions):
        return overrides
    if len(text) > INSTRUCTIONS_MAX_CHARS:
        raise validation_error(["body", "messages", parts[-1][0], "content"],
                               f"the system messages have {len(text)} characters in all; at most "
                               f"{INSTRUCTIONS_MAX_CHARS} are accepted")
    return (overrides or RunOverrides()).model_copy(update={"instructions": text})


def _history(body: ChatCompletionRequest) -> list[BaseMessage]:
    """The request's messages before the question, as the new thread's conversation."""
    last_user = max(i for i, m in enumerate(body.messages) if m.role == "user")
    kinds = {"system": SystemMessage, "developer": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.text()) for m in body.messages[:last_user] if m.role in kinds and m.text().strip()]


async def _seed(ctx, thread_id: str, messages: list[BaseMessage]) -> None:
    """Write the earlier messages into the (new) thread, as if they were its earlier turns."""
    service = ctx.service
    if hasattr(service, "start"):
        await service.start()
    graph = getattr(service, "graph", None)
    if graph is None or not messages:
        return
    await graph.aupdate_state({"configurable": {"thread_id": thread_id}}, {"messages": messages}, as_node="verify")


def _usage(result: RunResult | dict[str, Any]) -> ChatUsage:
    usage = (result.usage if isinstance(result, RunResult) else result.get("usage")) or {}
    prompt = int(usage.get("prompt_tokens", 0) or 0)
    completion = int(usage.get("completion_tokens", 0) or 0)
    return ChatUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


@router.get("/models", response_model=ModelList, summary="Models (OpenAI-compatible)")
async def list_models(request: Request) -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_ID, created=ctx_of(request).started_at)])


@router.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    summary="Chat completion (OpenAI-compatible) over the agent",
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when `stream` is true."}},
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    x_thread_id: str | None = Header(None, pattern=THREAD_ID_PATTERN, description="Continue this thread."),
    user: User = Depends(require_user),
):
    ctx = ctx_of(request)
    question = body.question()
    if question is None:
        raise validation_error(["body", "messages"], "needs at least one message with role `user`")
    if not question.strip():
        raise validation_error(["body", "messages", len(body.messages) - 1, "content"], "the question is empty")
    check_message(ctx, question, ["body", "messages", "content"])
    thread_id = body.thread_id or x_thread_id
    overrides = _with_instructions(body, body.run_overrides())
    model = body.model or MODEL_ID
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    if thread_id is None:
        history = _history(body)
        if history:
            thread_id = await ctx.thread_for(user, None, question)
            await _seed(ctx, thread_id, history)
    endpoint = "chat_stream" if body.stream else "chat"
    record = await ctx.start_run(user, endpoint, question, thread_id, overrides)
    thread_id = record.thread_id

    if not body.stream:
        result = await await_run(ctx, request, record)
        response = ChatCompletionResponse(
            id=completion_id,
            created=created,
            model=model,
            choices=[ChatChoice(message=ChatCompletionMessage(content=result.answer))],
            usage=_usage(result),
            bioagent=result.model_dump(mode="json"),
        )
        return JSONResponse(response.model_dump(mode="json"), headers={"X-Thread-Id": result.thread_id})

    try:
        await ctx.first_event(record)
    except BaseException:
        ctx.runs.cancel(record)
        raise
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    stream_draft = body.stream_draft

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> ServerSentEvent:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        return ServerSentEvent(data=dumps(payload))

    async def sse():
        streamed: list[str] = []
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for _seq, event in record.follow(0):
                if event.type == "token" and stream_draft:
                    text = str(event.data.get("text", ""))
                    if text:
                        streamed.append(text)
                        yield chunk({"content": text})
                elif event.type == "done":
                    result = event.data
                    answer = str(result.get("answer", ""))
                    if stream_draft:
                        tail = _closing_text("".join(streamed), answer, result.get("language"))
                        pieces = [tail] if tail else []
                    else:
                        pieces = _pieces(answer)
                    for piece in pieces:
                        yield chunk({"content": piece})
                    yield chunk({}, "stop", bioagent=result)
                    if include_usage:
                        usage = _usage(result).model_dump()
                        yield ServerSentEvent(data=dumps({
                            "id": completion_id, "object": "chat.completion.chunk", "created": created,
                            "model": model, "choices": [], "usage": usage,
                        }))
        except Exception as exc:
            data = stream_error_data(ctx, exc, request)
            yield ServerSentEvent(data=dumps({"error": {
                "message": data["message"], "type": data["code"], "code": data["code"],
                "request_id": data.get("request_id"),
            }}))
        finally:
            if not record.finished:
                ctx.runs.cancel(record)
        yield ServerSentEvent(data="[DONE]")

    headers = {"X-Thread-Id": thread_id, "X-Run-Id": record.run_id}
    return EventSourceResponse(sse(), sep="\n", ping=15, headers=headers)
