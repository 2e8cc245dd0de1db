"""Prometheus metrics of the API, taken from the requests and from the runs' trace events.

Each app has its own registry (several apps can live in one process, e.g. in tests); ``GET /metrics`` serves
it in the text exposition format. The run metrics come from the same TraceEvents that the CLI and UI show,
so they measure what the trace says.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import gc_collector, platform_collector, process_collector

from agent.events import TraceEvent

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_TOKEN_KEYS = ("prompt_tokens", "completion_tokens")


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _is_retrieval(node: str) -> bool:
    return "retriev" in node or node in {"search", "kb_search"}


class APIMetrics:
    CONTENT_TYPE = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None, *, process_metrics: bool = True) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        if process_metrics and registry is None:
            process_collector.ProcessCollector(registry=self.registry)
            platform_collector.PlatformCollector(registry=self.registry)
            gc_collector.GCCollector(registry=self.registry)
        r = self.registry
        self.http_requests = Counter(
            "bioagent_http_requests", "HTTP requests by route template, method and status.",
            ["method", "route", "status"], registry=r,
        )
        self.http_latency = Histogram(
            "bioagent_http_request_duration_seconds", "HTTP request latency (to the end of the body).",
            ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.runs = Counter(
            "bioagent_runs", "Agent runs by endpoint and outcome (ok, error, llm_unavailable, cancelled).",
            ["endpoint", "outcome"], registry=r,
        )
        self.runs_in_progress = Gauge("bioagent_runs_in_progress", "Agent runs in flight.", registry=r)
        self.run_latency = Histogram(
            "bioagent_run_duration_seconds", "Wall time of a whole agent run.", ["endpoint"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.first_token = Histogram(
            "bioagent_time_to_first_token_seconds", "Streamed runs: time to the first answer token.",
            ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.node_latency = Histogram(
            "bioagent_node_duration_seconds", "Duration of each graph node (trace step events).", ["node"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.llm_latency = Histogram(
            "bioagent_llm_duration_seconds", "Latency of LLM calls, by the graph node that made them.", ["node"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.llm_tokens = Counter(
            "bioagent_llm_tokens", "LLM tokens used by runs (prompt, completion).", ["kind"], registry=r,
        )
        self.retrieval_latency = Histogram(
            "bioagent_retrieval_duration_seconds", "Knowledge-base retrieval latency (retrieve steps).",
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.tool_calls = Counter("bioagent_tool_calls", "MCP tool calls by tool.", ["tool"], registry=r)
        self.tool_errors = Counter("bioagent_tool_errors", "MCP tool calls that failed, by tool.", ["tool"], registry=r)
        self.run_errors = Counter(
            "bioagent_run_errors", "Handled errors reported in run traces, by node.", ["node"], registry=r,
        )
        self.ingest_files = Counter(
            "bioagent_ingest_files", "Files received by POST /v1/ingest, by outcome.", ["outcome"], registry=r,
        )

    # -- requests ----------------------------------------------------------------------------------------------
    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route, str(status)).observe(seconds)

    # -- runs --------------------------------------------------------------------------------------------------
    def observe_event(self, event: TraceEvent) -> None:
        """Account one trace event (not ``done``: its usage is counted by :meth:`observe_usage`)."""
        data = event.data or {}
        if event.type == "step":
            node = event.node or "unknown"
            duration = _num(data.get("duration_ms"))
            if duration is not None:
                self.node_latency.labels(node).observe(duration / 1000)
                if _is_retrieval(node):
                    self.retrieval_latency.observe(duration / 1000)
            # The node's time in model calls (`llm_ms`, over `llm_calls` calls): only nodes that called the model.
            llm_ms, llm_calls = _num(data.get("llm_ms")), _num(data.get("llm_calls"))
            if llm_ms is not None and (llm_calls is None or llm_calls > 0):
                self.llm_latency.labels(node).observe(llm_ms / 1000)
        elif event.type == "tool_call":
            self.tool_calls.labels(str(data.get("name") or data.get("tool") or event.node or "unknown")).inc()
        elif event.type == "tool_result":
            failed = data.get("ok") is False or bool(data.get("error"))
            if failed:
                self.tool_errors.labels(str(data.get("name") or data.get("tool") or event.node or "unknown")).inc()
        elif event.type == "error":
            self.run_errors.labels(event.node or "unknown").inc()

    def observe_usage(self, usage: dict[str, Any] | None) -> None:
        for key in _TOKEN_KEYS:
            value = _num((usage or {}).get(key))
            if value:
                self.llm_tokens.labels(key.removesuffix("_tokens")).inc(value)

    def observe_result(self, result_dict: dict[str, Any]) -> None:
        """A finished run (non-streaming): every event of its trace, then its token usage."""
        for raw in result_dict.get("trace") or []:
            event = raw if isinstance(raw, TraceEvent) else TraceEvent.model_validate(raw)
            if event.type != "done":
                self.observe_event(event)
        self.observe_usage(result_dict.get("usage"))

    def render(self) -> bytes:
        return generate_latest(self.registry)
