"""Run-scoped context: the dependencies and limits one run of the graph uses (LangGraph ``context_schema``).

The runner fills it from settings and per-run overrides. Fields left empty are resolved lazily, so the
module-level graph in ``agent.graph`` also runs under LangGraph's own tooling (``langgraph dev``/Studio):
the chat model from ``agent.llm``, the knowledge base from ``agent.kb`` and no MCP tools.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from agent.events import RunOverrides
from agent.settings import Settings, get_settings


@dataclass
class Context:
    settings: Settings = field(default_factory=get_settings)
    chat_model: BaseChatModel | None = None
    knowledge_base: Any = None
    tools: list[BaseTool] = field(default_factory=list)
    overrides: RunOverrides = field(default_factory=RunOverrides)
    tool_status: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per MCP server: {"ok": bool, "detail": str} (why a server's tools are missing)."""
    tokens_used: int = 0
    mode: str = "guarded"
    """The resolved mode of this run: evidence, guarded or agentic (``auto`` is resolved by the runner)."""
    """Tokens spent by this run so far (all model calls)."""

    # -- effective limits (overrides win over settings)
    @property
    def max_rounds(self) -> int:
        o = self.overrides.max_rounds
        return self.settings.agent.max_rounds if o is None else o

    @property
    def max_tool_calls(self) -> int:
        o = self.overrides.max_tool_calls
        return self.settings.agent.max_tool_calls if o is None else o

    @property
    def k(self) -> int:
        return self.overrides.k or self.settings.retrieval.k

    @property
    def rerank(self) -> bool | None:
        return self.overrides.rerank

    @property
    def retrieval_enabled(self) -> bool:
        return self.overrides.retrieval_enabled is not False

    @property
    def max_context_passages(self) -> int:
        return self.settings.agent.max_context_passages

    @property
    def max_run_tokens(self) -> int:
        return self.settings.agent.max_run_tokens

    @property
    def grade_min_score(self) -> float:
        return self.settings.agent.grade_min_score

    def tool_map(self) -> dict[str, BaseTool]:
        """The tools this run may use (restricted by ``overrides.tools_enabled``)."""
        allowed = self.overrides.tools_enabled
        return {t.name: t for t in self.tools if allowed is None or t.name in allowed}

    async def get_model(self) -> BaseChatModel:
        if self.chat_model is None:
            from agent.llm import chat_model, ensure_endpoint

            await asyncio.to_thread(ensure_endpoint, self.settings)
            self.chat_model = chat_model(self.settings, self.overrides)
        return self.chat_model

    async def get_kb(self) -> Any:
        if self.knowledge_base is None:
            self.knowledge_base = await asyncio.to_thread(load_knowledge_base, self.settings)
        return self.knowledge_base


def load_knowledge_base(settings: Settings) -> Any:
    """The knowledge base for these settings (``agent.kb.get_knowledge_base``)."""
    from agent.kb import get_knowledge_base

    try:
        return get_knowledge_base(settings)
    except TypeError:
        return get_knowledge_base()
