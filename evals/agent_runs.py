"""Run the agent (the same ``AgentService`` every surface uses) over evaluation items, one configuration at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.events import RunResult
from agent.settings import Settings
from evals.configs import EvalConfig

log = logging.getLogger(__name__)

#: Question templates per dataset format; ``{question}`` is the item's question.
TEMPLATES = {
    # "literature" and "cite" make the agent's guards retrieve (PubMedQA questions are rarely about viruses).
    "pubmedqa": "{question}\nAnswer from the literature: start with Yes, No or Maybe, then explain briefly and cite "
                "the passages.",
    "qa": "{question}",
}


@dataclass
class AgentItem:
    """What is sent to the agent for one dataset item."""

    item: Any
    message: str


def agent_items(items: Sequence[Any], fmt: str, template: str | None = None) -> list[AgentItem]:
    template = template or TEMPLATES.get(fmt, "{question}")
    if "{question}" not in template:
        raise ValueError("the question template needs a {question} placeholder")
    return [AgentItem(it, template.replace("{question}", it.question)) for it in items]


def _seeded_model(settings: Settings, seed: int | None):
    """The configured endpoint's chat model with a fixed sampling seed (OpenAI ``seed``; llama.cpp honours it)."""
    from agent.llm import chat_model

    model = chat_model(settings)
    if seed is not None and "seed" in type(model).model_fields:
        model = model.model_copy(update={"seed": seed})
    return model


async def run_config(agent_inputs: Sequence[AgentItem], settings: Settings, config: EvalConfig, *,
                     knowledge_base=None, chat_model=None, tools=None, seed: int | None = None,
                     run_id: str = "eval", progress: Callable[[int], None] | None = None,
                     on_result: Callable[[AgentItem, RunResult | None, str | None], None] | None = None
                     ) -> list[tuple[AgentItem, RunResult | None, str | None]]:
    """Run every input under one configuration; a failed run is (input, None, error message).

    ``LLMUnavailable`` (no endpoint) is raised before any item runs, with its message saying what to start.
    """
    from agent.runner import AgentService

    model = chat_model if chat_model is not None else await asyncio.to_thread(_seeded_model, settings, seed)
    service = AgentService(settings, chat_model=model, knowledge_base=knowledge_base, tools=tools)
    out: list[tuple[AgentItem, RunResult | None, str | None]] = []
    try:
        for ai in agent_inputs:
            thread = f"{run_id}-{config.name}-{ai.item.id}"
            try:
                result = await service.run(ai.message, thread_id=thread, overrides=config.overrides)
                row = (ai, result, None)
            except Exception as exc:  # noqa: BLE001 - one failed item is recorded, the run goes on
                log.warning("item %s failed under %s: %s", ai.item.id, config.name, exc)
                row = (ai, None, f"{type(exc).__name__}: {exc}")
            out.append(row)
            if on_result:
                on_result(*row)
            if progress:
                progress(1)
    finally:
        await service.aclose()
    return out
