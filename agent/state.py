"""The agent's typed state.

Only ``messages`` (the conversation: user questions and final answers) and the thread's evidence memory
(``memory_passages``, ``memory_tools``) carry over between turns of a thread; every other field describes the
current turn and is reset by the ``route`` node at the start of each turn.
Values are plain JSON-able data (passages and tool results as dicts) so any checkpointer can store them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages

Route = Literal["direct", "retrieve", "tools", "both"]


@dataclass
class InputState:
    """What a caller gives the graph: the conversation so far plus the new user message."""

    messages: Annotated[Sequence[AnyMessage], add_messages] = field(default_factory=list)


@dataclass
class State(InputState):
    # -- the question of this turn
    question: str = ""
    """The user's message as typed."""
    question_text: str = ""
    """The message with sequences replaced by placeholders (what retrieval and prompts see)."""
    search_text: str = ""
    """What retrieval looks for: the message without sequence placeholders, plus the FASTA header's words."""
    language: Literal["en", "zh"] = "en"
    sequences: list[dict[str, Any]] = field(default_factory=list)
    """Sequences found in the message: {"id", "kind": protein|dna, "sequence", "source": fasta|raw}."""
    mutations: list[str] = field(default_factory=list)
    """Mutations named in the message, e.g. ``K25A`` (checked against the first protein sequence)."""
    write_allowed: bool = False
    """Whether the user explicitly asked to change the library (enables tools like add_to_library)."""

    mode: Literal["evidence", "guarded", "agentic"] = "guarded"
    """How much the model decides this turn (see ``AgentSettings.mode``)."""
    library_empty: bool = False
    """The library holds no documents (said plainly, without calling the model)."""

    # -- routing
    route: Route = "retrieve"
    route_reason: str = ""

    # -- retrieval
    queries: list[str] = field(default_factory=list)
    """Every query searched this turn, in order."""
    pending_queries: list[str] = field(default_factory=list)
    """Queries produced by the last rewrite and not searched yet."""
    passages: list[dict[str, Any]] = field(default_factory=list)
    """Retrieved passages (Hit dicts), deduplicated by chunk id, best first."""
    grades: dict[str, bool] = field(default_factory=dict)
    """chunk_id -> relevant?"""
    rounds: int = 0
    """Retrieval rounds done this turn (the first retrieval is round 1)."""
    sufficient: bool = False
    missing: str = ""
    corrective: dict[str, Any] = field(default_factory=dict)
    """agentic mode: the public search made when the library was insufficient (query, source, pmids, added)."""

    # -- tools
    tool_messages: list[AnyMessage] = field(default_factory=list)
    """This turn's tool-calling exchange (AI tool calls and tool results) shown to the model."""
    pending_tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)
    """ToolResult dicts, ids T1..Tn."""
    tool_iterations: int = 0
    guard_calls_done: bool = False

    # -- answer
    context_passages: list[dict[str, Any]] = field(default_factory=list)
    """The passages given to the answer step, in order: P1, P2, ..."""
    answer: str = ""
    draft: str = ""
    """The model's answer before citation checking."""
    citations: list[dict[str, Any]] = field(default_factory=list)
    invalid_citations: list[str] = field(default_factory=list)
    insufficient_evidence: bool = False
    used_fallback: bool = False
    answer_mode: Literal["model", "evidence", "fallback"] = "model"
    """Who wrote the answer: the model, the evidence composer (by design), or the composer after the model's
    answer failed its checks."""
    claims: list[dict[str, Any]] = field(default_factory=list)
    """One verdict per answer claim (``agent.claims.ClaimVerdict.as_dict()``)."""
    regenerated: bool = False

    # -- the thread's evidence (kept across turns, offered again to follow-up questions)
    memory_passages: list[dict[str, Any]] = field(default_factory=list)
    memory_tools: list[dict[str, Any]] = field(default_factory=list)

    # -- accounting
    usage: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def turn_reset(question: str) -> dict[str, Any]:
    """The per-turn fields' starting values (the route node returns them at the start of each turn)."""
    return {
        "question": question,
        "question_text": "",
        "search_text": "",
        "language": "en",
        "sequences": [],
        "mutations": [],
        "write_allowed": False,
        "route": "retrieve",
        "route_reason": "",
        "queries": [],
        "pending_queries": [],
        "passages": [],
        "grades": {},
        "rounds": 0,
        "sufficient": False,
        "missing": "",
        "tool_messages": [],
        "pending_tool_calls": [],
        "tool_results": [],
        "tool_iterations": 0,
        "guard_calls_done": False,
        "context_passages": [],
        "answer": "",
        "draft": "",
        "citations": [],
        "invalid_citations": [],
        "insufficient_evidence": False,
        "used_fallback": False,
        "mode": "guarded",
        "library_empty": False,
        "corrective": {},
        "answer_mode": "model",
        "claims": [],
        "regenerated": False,
        "usage": {},
        "errors": [],
    }
