"""What a run of the agent produces: trace events while it runs and a result at the end.

The CLI, the HTTP API, the Streamlit UI and the evals all consume these same types, so every surface shows
the same steps. Events are plain JSON-serialisable pydantic models.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.kb.models import Hit


INSTRUCTIONS_MAX_CHARS = 8000


class RunOverrides(BaseModel):
    """Per-run settings a caller may change (API body, UI sidebar, eval configuration)."""

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    max_rounds: int | None = Field(None, ge=0, le=10)
    max_tool_calls: int | None = Field(None, ge=0, le=50)
    k: int | None = Field(None, ge=1, le=50)
    rerank: bool | None = None
    tools_enabled: list[str] | None = Field(None, description="Restrict the MCP tools to these names.")
    retrieval_enabled: bool | None = None
    language: Literal["en", "zh"] | None = Field(None, description="Force the answer language.")
    mode: Literal["evidence", "guarded", "agentic"] | None = Field(
        None, description="Run in this mode instead of the configured or probed one (agent.mode).")
    instructions: str | None = Field(
        None, max_length=INSTRUCTIONS_MAX_CHARS,
        description="Additional instructions for the answer model (an OpenAI client's system prompt): added to "
        "the answer's system prompt after bioagent's own rules in guarded and agentic modes; evidence mode writes "
        "no text with a model, so it does not use them (the answer step's trace says so).")


class TraceEvent(BaseModel):
    """One thing that happened during a run.

    type:
      - ``step``: a graph node finished; ``node`` names it and ``data`` holds what it decided (route, queries,
        passages with scores, grades, tool calls) plus ``duration_ms`` and token counts.
      - ``token``: a piece of the answer as it streams (``data["text"]``).
      - ``tool_call`` / ``tool_result``: an MCP tool call and its result or error.
      - ``error``: something failed and was handled (``data["message"]``).
      - ``done``: the run ended; ``data`` is the RunResult as a dict.
    """

    type: Literal["step", "token", "tool_call", "tool_result", "error", "done"]
    node: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    ts: float = Field(default_factory=time.time)


class Citation(BaseModel):
    """A reference in the answer, checked against what the run actually retrieved or computed."""

    ref: str = Field(..., description="The id as written in the answer, e.g. `P3` or `T1`.")
    kind: Literal["passage", "tool"]
    chunk_id: str | None = None
    doc_id: str | None = None
    title: str | None = None
    label: str = Field("", description="Human-readable pointer (title, page, DOI/PMID, or tool name).")
    valid: bool = True


class ToolResult(BaseModel):
    id: str = Field(..., description="Reference id usable in the answer, e.g. `T1`.")
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    content: Any = None
    error: str | None = None
    error_code: str | None = Field(None, description="`server_unavailable`: the tool's MCP server is restarting.")
    duration_ms: float = 0.0


class RunResult(BaseModel):
    thread_id: str
    question: str
    answer: str
    language: Literal["en", "zh"] = "en"
    route: str | None = None
    citations: list[Citation] = Field(default_factory=list)
    invalid_citations: list[str] = Field(default_factory=list, description="Ids cited but never retrieved.")
    passages: list[Hit] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)
    insufficient_evidence: bool = False
    trace: list[TraceEvent] = Field(default_factory=list)
    usage: dict[str, int] = Field(default_factory=dict, description="prompt_tokens, completion_tokens.")
    duration_ms: float = 0.0
    model: str | None = None
    mode: Literal["evidence", "guarded", "agentic"] | None = Field(
        None, description="How much the model decided in this run (agent.mode; auto resolved by a probe).")
    answer_mode: Literal["model", "evidence", "fallback"] | None = Field(
        None, description="Who wrote the answer: the model, the evidence composer by design, or the composer "
        "after the model's answer failed its checks.")
    claims: list[dict[str, Any]] = Field(
        default_factory=list, description="One verdict per answer claim: text, citations, supported, score, "
        "reasons, kind.")
