"""``auto`` mode: probe the endpoint once and pick evidence, guarded or agentic.

Two tiny probes, each a forced tool call with a time limit:

- structured output: grade two short passages for a question; valid when the reply parses as ``PassageGrades``
  and names exactly the relevant passage;
- tool calling: a protein sequence and two tools; valid when the model calls ``protein_properties`` with the
  sequence as given.

Both valid: agentic. The structured probe only: guarded. Neither: evidence (the bundled SmolLM2-135M lands
here; the embedded server with the bundled model is not probed at all: its verdict is known). The verdict is
cached per (endpoint, model) in ``data_dir/mode_probe.json``. A chat model object handed to ``AgentService``
(no endpoint URL) runs ``guarded`` under ``auto``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from agent.model_calls import STAGE_MAX_TOKENS, parse_structured
from agent.nodes.schemas import PassageGrades

log = logging.getLogger(__name__)

PROBE_SEQUENCE = "MPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQGFANFVKKQTFNKVKWYLGARCHIEKAKGTDQQNKEYCSKEGNLLIEC"
_GRADE_PROMPT = (
    "Question: What does the Rep protein do in rolling-circle replication?\n\n"
    '<data id="P1" kind="passage">Rep nicks the origin of replication and initiates rolling-circle replication '
    "of the viral genome.</data>\n"
    '<data id="P2" kind="passage">The capsid protein forms an icosahedral particle of 60 subunits.</data>\n\n'
    "Which passages are relevant? Reply by calling PassageGrades."
)
_TOOL_PROMPT = f"Compute the physico-chemical properties of this protein: {PROBE_SEQUENCE}"
_memory: dict[str, dict[str, Any]] = {}


class _SequenceArg(BaseModel):
    sequence: str = Field(..., description="Protein sequence.")


class _QueryArg(BaseModel):
    query: str = Field(..., description="PubMed query.")


def _probe_tools() -> list[StructuredTool]:
    def protein_properties(sequence: str) -> str:
        """Physico-chemical properties of a protein sequence (length, weight, pI)."""
        return ""

    def search_pubmed(query: str) -> str:
        """Search PubMed for papers."""
        return ""

    return [StructuredTool.from_function(protein_properties, args_schema=_SequenceArg),
            StructuredTool.from_function(search_pubmed, args_schema=_QueryArg)]


def _injected(model: Any) -> bool:
    return not getattr(model, "openai_api_base", None)


def endpoint_key(model: Any) -> str:
    """The cache key: the endpoint URL and model name of an OpenAI-compatible chat model."""
    return f"{getattr(model, 'openai_api_base', None)}|{getattr(model, 'model_name', None) or type(model).__name__}"


async def _structured_ok(model: Any, timeout: float) -> tuple[bool, str]:
    bound = model.bind_tools([PassageGrades], tool_choice="PassageGrades")
    msg = await asyncio.wait_for(bound.ainvoke(
        [SystemMessage("You grade passages for relevance."), HumanMessage(_GRADE_PROMPT)],
        config={"tags": ["bioagent:probe"], "run_name": "bioagent.probe"}), timeout)
    parsed = parse_structured(msg, PassageGrades)
    if parsed is None:
        return False, "no valid PassageGrades"
    return parsed.relevant == ["P1"], f"relevant={parsed.relevant}"


async def _tools_ok(model: Any, timeout: float) -> tuple[bool, str]:
    bound = model.bind_tools(_probe_tools())
    msg = await asyncio.wait_for(bound.ainvoke(
        [SystemMessage("You are an assistant with tools. Call the tool the request needs."), HumanMessage(_TOOL_PROMPT)],
        config={"tags": ["bioagent:probe"], "run_name": "bioagent.probe"}), timeout)
    calls = msg.tool_calls or []
    ok = (len(calls) == 1 and calls[0].get("name") == "protein_properties"
          and str((calls[0].get("args") or {}).get("sequence", "")).strip().upper() == PROBE_SEQUENCE)
    return ok, f"calls={[c.get('name') for c in calls]}"


async def probe(model: Any, timeout: float) -> dict[str, Any]:
    """Run both probes; {"mode", "structured", "tools", "detail", "seconds"}."""
    start = time.perf_counter()
    if "max_tokens" in getattr(type(model), "model_fields", {}):
        model = model.model_copy(update={"max_tokens": STAGE_MAX_TOKENS["probe"]})  # short replies, bounded time
    results: dict[str, Any] = {}
    for name, fn in (("structured", _structured_ok), ("tools", _tools_ok)):
        try:
            ok, detail = await fn(model, timeout)
        except Exception as exc:  # noqa: BLE001 - a failing probe is a negative verdict
            ok, detail = False, f"{type(exc).__name__}" if not str(exc) else str(exc).splitlines()[0][:160]
        results[name] = ok
        results[f"{name}_detail"] = detail
    mode = "agentic" if results["structured"] and results["tools"] else "guarded" if results["structured"] else "evidence"
    return {"mode": mode, **results, "seconds": round(time.perf_counter() - start, 2)}


def _cache_path(data_dir: Path) -> Path:
    return Path(data_dir) / "mode_probe.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


async def resolve_mode(settings: Any, model: Any) -> tuple[str, dict[str, Any]]:
    """(mode, how it was decided) for this model under these settings."""
    configured = settings.agent.mode
    if configured != "auto":
        return configured, {"source": "setting"}
    if _injected(model):
        # a chat model object handed to AgentService (tests, evals, embedding apps): auto probes endpoints only
        return "guarded", {"mode": "guarded", "source": "injected model (auto probes endpoints only)"}
    if settings.llm.base_url is None and settings.llm.gguf_path is None:
        # the embedded server with the bundled SmolLM2-135M: it fails both probes (tests/agent/test_mcp_and_e2e.py
        # probes it through a real llama.cpp server), and probing it would keep its single slot busy for minutes
        # on a loaded 2-core machine, so the verdict is given without asking
        return "evidence", {"mode": "evidence", "source": "bundled SmolLM2-135M (known to fail the probes)"}
    key = endpoint_key(model)
    if key in _memory:
        return _memory[key]["mode"], {**_memory[key], "source": "cached"}
    path = _cache_path(settings.data_dir)
    hit = _read(path).get(key)
    if isinstance(hit, dict) and hit.get("mode") in ("evidence", "guarded", "agentic"):
        _memory[key] = hit
        return hit["mode"], {**hit, "source": "cached"}
    result = await probe(model, settings.agent.probe_timeout_s)
    _memory[key] = result
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read(path)
        data[key] = result
        path.write_text(json.dumps(data, indent=1))
    except OSError as exc:
        log.warning("could not cache the mode probe in %s: %s", path, exc)
    log.info("mode probe for %s: %s", key, result)
    return result["mode"], {**result, "source": "probe"}
