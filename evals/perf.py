"""Latency and tokens per query, read from a RunResult and its trace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.events import RunResult
from evals.metrics import mean, summarize


def run_perf(result: RunResult) -> dict[str, Any]:
    """Wall time, tokens, model calls and time per graph node of one run."""
    nodes: dict[str, float] = {}
    llm_ms = 0.0
    llm_calls = 0
    estimated = False
    for ev in result.trace:
        if ev.type != "step" or not ev.node:
            continue
        nodes[ev.node] = nodes.get(ev.node, 0.0) + float(ev.data.get("duration_ms") or 0.0)
        llm_ms += float(ev.data.get("llm_ms") or 0.0)
        llm_calls += int(ev.data.get("llm_calls") or 0)
        estimated = estimated or bool((ev.data.get("tokens") or {}).get("estimated"))
    u = result.usage or {}
    prompt, completion = int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0))
    return {"latency_ms": result.duration_ms, "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": int(u.get("total_tokens", prompt + completion)), "llm_calls": llm_calls,
            "llm_ms": round(llm_ms, 2), "tokens_estimated": estimated, "node_ms": {k: round(v, 2) for k, v in nodes.items()}}


def aggregate_perf(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Summaries (mean, p50, p95, max) over the runs' perf rows."""
    rows = [r for r in rows if r]
    if not rows:
        return {}
    node_names = sorted({n for r in rows for n in r.get("node_ms", {})})
    return {
        "latency_ms": summarize(r["latency_ms"] for r in rows),
        "total_tokens": summarize(r["total_tokens"] for r in rows),
        "prompt_tokens": summarize(r["prompt_tokens"] for r in rows),
        "completion_tokens": summarize(r["completion_tokens"] for r in rows),
        "llm_calls": mean(r["llm_calls"] for r in rows),
        "tokens_estimated": any(r.get("tokens_estimated") for r in rows),
        "node_ms_mean": {n: mean(r.get("node_ms", {}).get(n, 0.0) for r in rows) for n in node_names},
    }
