"""Request and response bodies of the HTTP API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.events import RunOverrides

THREAD_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
ThreadId = Annotated[
    str,
    Field(pattern=THREAD_ID_PATTERN, description="Conversation id (letters, digits, `._:-`, at most 128)."),
]
# A hard ceiling for the schema; the effective limit is `BIOAGENT_API__MAX_MESSAGE_CHARS`.
MESSAGE_MAX_CHARS = 1_000_000


class RunOverridesIn(RunOverrides):
    """Per-run overrides; unknown keys are rejected so that a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


class RunRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"message": "What does the Rep protein of PCV2 do?", "thread_id": "demo-1"}]},
    )

    message: str = Field(..., min_length=1, max_length=MESSAGE_MAX_CHARS, description="The question.")
    thread_id: ThreadId | None = Field(None, description="Continue this conversation (a new one when absent).")
    overrides: RunOverridesIn | None = Field(None, description="Per-run settings (temperature, top_p, rounds...).")
    background: bool = Field(
        False, description="Run detached: POST /v1/runs answers 202 with the run id at once; a stream's client may "
        "leave without cancelling the run (follow it again with GET /v1/runs/{id}/stream)."
    )

    _blank = field_validator("message")(_not_blank)


class ThreadMessage(BaseModel):
    role: str
    content: Any = ""


class ThreadResponse(BaseModel):
    thread_id: str
    messages: list[ThreadMessage]


class ReportResponse(BaseModel):
    markdown: str
    data: dict[str, Any] = Field(default_factory=dict, description="The figures' data and the structured findings.")


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class DependencyStatus(BaseModel):
    ok: bool
    required: bool = True
    detail: str | None = Field(None, description="Shown to authenticated callers (or when auth is disabled).")


class ReadinessResponse(BaseModel):
    status: Literal["ready", "degraded", "not_ready"]
    failing: list[str] = Field(default_factory=list, description="Required dependencies (store, checkpointer) that "
                               "are not reachable: 503.")
    degraded: list[str] = Field(default_factory=list, description="The LLM or MCP servers that do not answer "
                                "(answers degrade; still 200).")
    checks: dict[str, DependencyStatus]


# -- OpenAI-compatible chat ------------------------------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type in {"text", "input_text"})


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request. The last user message is the question; the messages before it (system
    prompt included) are the conversation, unless ``thread_id`` (body) or ``X-Thread-Id`` (header) names a
    stored thread to continue. Unknown OpenAI parameters (``tools``, ``seed``, ``stop``...) are accepted and
    ignored."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"model": "bioagent", "messages": [{"role": "user", "content": "What is a Rep protein?"}]}]
        },
    )

    model: str = Field("bioagent", max_length=256)
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=10_000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    max_completion_tokens: int | None = Field(None, ge=1, le=32768)
    n: int | None = Field(None, ge=1, le=1, description="Only one choice is produced.")
    user: str | None = Field(None, max_length=256, description="End-user id (recorded, not used as the thread).")
    thread_id: ThreadId | None = Field(None, description="bioagent: continue this conversation.")
    overrides: RunOverridesIn | None = Field(None, description="bioagent: per-run settings (max_rounds, k...).")
    stream_draft: bool = Field(
        False,
        description="bioagent, streaming: false (default): the content is the checked answer, the same text as "
        "without streaming, sent when the run has checked it; true: the answer model's tokens as they come, then "
        "the checked answer if it differs.",
    )

    def question(self) -> str | None:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text()
        return None

    def run_overrides(self) -> RunOverrides | None:
        values = self.overrides.model_dump(exclude_none=True) if self.overrides else {}
        for key in ("temperature", "top_p"):
            if getattr(self, key) is not None:
                values.setdefault(key, getattr(self, key))
        max_tokens = self.max_completion_tokens or self.max_tokens
        if max_tokens is not None:
            values.setdefault("max_tokens", max_tokens)
        return RunOverrides(**values) if values else None


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatCompletionMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class ChatUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    bioagent: dict[str, Any] = Field(
        default_factory=dict, description="The whole RunResult: thread_id, citations, passages, tool results, trace."
    )


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "bioagent"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
