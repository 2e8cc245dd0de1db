"""The graph for LangGraph's own server (``langgraph dev``, LangGraph Platform), with bioagent's resources.

``langgraph.json`` names :func:`make_graph`, a graph factory: the server calls it whenever it needs the graph
(runs, state reads, schemas) and passes a ``ServerRuntime`` that says why. For a run it first makes sure the
process-wide resources are up, once:

- the MCP tools of the configured servers (``agent.tools.MCPManager``: stdio subprocesses or streamable HTTP,
  one long-lived session each, so ESM-2 loads once), with their status;
- the knowledge base of ``BIOAGENT_DATA_DIR`` / ``BIOAGENT_QDRANT__*`` (``agent.context.load_knowledge_base``);
- the chat model from settings (``agent.llm.chat_model``, which also starts the embedded llama.cpp server when
  that is configured).

The graph is ``agent.graph.builder()`` compiled with :class:`ServedContext` as its context schema: the run-scoped
:class:`agent.context.Context` whose defaults are those resources, so a client that sends no context (the
official ``langgraph_sdk`` client, Studio) gets the same tools and library as ``bioagent serve``; fields it does
send (e.g. ``overrides``) win. The server supplies the checkpointer and store.

    langgraph dev --no-browser --port 2024     # then: langgraph_sdk.get_client(url="http://127.0.0.1:2024")
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph_sdk.runtime import ServerRuntime

from agent.context import Context, load_knowledge_base
from agent.events import RunOverrides
from agent.graph import builder
from agent.settings import Settings, get_settings

log = logging.getLogger(__name__)


class Resources:
    """What every run of this process shares: MCP tools, the knowledge base and the chat model."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.tools: list[BaseTool] = []
        self.tool_status: dict[str, dict[str, Any]] = {}
        self.knowledge_base: Any = None
        self.chat_model: BaseChatModel | None = None
        self._mcp: Any = None
        self._lock: asyncio.Lock | None = None
        self.ready = False

    async def ensure(self) -> None:
        """Start everything once; a part that fails is logged and left to the run's own lazy fallbacks
        (the model and the library are retried by the run, a dead MCP server shows in ``tool_status``)."""
        if self.ready:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.ready:
                return
            from agent.tools import MCPManager

            self.settings = get_settings()
            self._mcp = MCPManager(self.settings)
            self.tools = list(await self._mcp.start())
            self.tool_status = dict(self._mcp.status)
            log.info("bioagent graph: %d MCP tools (%s)", len(self.tools), ", ".join(t.name for t in self.tools))
            try:
                self.knowledge_base = await asyncio.to_thread(load_knowledge_base, self.settings)
            except Exception as exc:  # noqa: BLE001 - the run says the library is unavailable
                log.warning("bioagent graph: knowledge base unavailable: %s", exc)
            try:
                from agent.llm import chat_model

                self.chat_model = await asyncio.to_thread(chat_model, self.settings)
            except Exception as exc:  # noqa: BLE001 - each run retries (and reports LLMUnavailable)
                log.warning("bioagent graph: chat model unavailable: %s", exc)
            self.ready = True

    async def aclose(self) -> None:
        if self._mcp is not None:
            await self._mcp.aclose()
        self.__init__()


RESOURCES = Resources()


@dataclass
class ServedContext(Context):
    """Context whose defaults are the process's resources (see the module docstring)."""

    settings: Settings = field(default_factory=lambda: RESOURCES.settings or get_settings())
    chat_model: BaseChatModel | None = field(default_factory=lambda: RESOURCES.chat_model)
    knowledge_base: Any = field(default_factory=lambda: RESOURCES.knowledge_base)
    tools: list[BaseTool] = field(default_factory=lambda: list(RESOURCES.tools))
    tool_status: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(RESOURCES.tool_status))

    def __post_init__(self) -> None:
        if isinstance(self.overrides, dict):  # a client's JSON context
            self.overrides = RunOverrides.model_validate(self.overrides)
        o = self.overrides
        configured = o.mode or self.settings.agent.mode
        if configured != "auto":  # auto would need the runner's endpoint probe: the served graph runs guarded
            self.mode = configured
        if any(v is not None for v in (o.temperature, o.top_p, o.max_tokens)):
            self.chat_model = None  # built for this run with its sampling (Context.get_model)


def _compile():
    graph = builder()
    graph.context_schema = ServedContext  # the same nodes and edges; only the context's defaults differ
    return graph.compile(name="bioagent")


GRAPH = _compile()


async def make_graph(runtime: ServerRuntime):
    """The graph factory of langgraph.json: resources are started for runs, not for schema or state reads."""
    if runtime.execution_runtime is not None:
        await RESOURCES.ensure()
    return GRAPH
