"""Sequence suite: the Rep call and motif positions of ``annotate_rep`` against expected values.

Runs the same core the MCP sequence server exposes (``mcp_servers.sequence.service.annotate_rep``; no model
needed). Scores:

- Rep call accuracy and macro-F1 over yes/partial/no (items with ``expected_call``);
- motif recall (an expected motif is reported at all) and position agreement: the share of expected motifs
  reported at exactly the expected 1-based start, and within ``tolerance`` residues of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from agent.settings import Settings
from evals.datasets import REP_CALLS, SequenceTask
from evals.metrics import accuracy, confusion, macro_f1, mean, summarize


def score_annotation(task: SequenceTask, annotation: dict[str, Any], tolerance: int = 2) -> dict[str, Any]:
    row: dict[str, Any] = {"id": task.id, "call": annotation.get("call")}
    if task.expected_call:
        row.update(expected_call=task.expected_call, call_correct=annotation.get("call") == task.expected_call)
    found = {m["motif"]: int(m["start"]) for m in annotation.get("motifs", [])}
    motifs = {}
    for key, want in task.expected_motifs.items():
        got = found.get(key)
        motifs[key] = {"expected": want, "found": got, "exact": got == want,
                       "within_tolerance": got is not None and abs(got - want) <= tolerance}
    if motifs:
        row["motifs"] = motifs
    return row


def run_sequence(tasks: Sequence[SequenceTask], settings: Settings, tolerance: int = 2,
                 progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    from mcp_servers.sequence import service
    from mcp_servers.sequence.errors import SequenceError

    rows: list[dict[str, Any]] = []
    latency: list[float] = []
    for task in tasks:
        t0 = time.perf_counter()
        try:
            out = service.annotate_rep(task.sequence, settings=settings)
            ann = out["records"][0]
        except SequenceError as exc:
            rows.append({"id": task.id, "error": str(exc)})
        else:
            latency.append((time.perf_counter() - t0) * 1000)
            rows.append(score_annotation(task, ann, tolerance))
        if progress:
            progress(1)
    return {"metrics": aggregate_sequence(rows, tolerance) | {"latency_ms": summarize(latency)}, "items": rows}


def aggregate_sequence(rows: Sequence[dict[str, Any]], tolerance: int = 2) -> dict[str, Any]:
    ok = [r for r in rows if not r.get("error")]
    out: dict[str, Any] = {"items": len(rows), "errors": len(rows) - len(ok), "tolerance": tolerance}
    called = [r for r in ok if "expected_call" in r]
    if called:
        pred = [r["call"] for r in called]
        gold = [r["expected_call"] for r in called]
        out.update(call_accuracy=accuracy(pred, gold), call_macro_f1=macro_f1(pred, gold, REP_CALLS),
                   call_confusion=confusion(pred, gold, REP_CALLS))
    motifs = [m | {"key": k} for r in ok for k, m in r.get("motifs", {}).items()]
    if motifs:
        out.update(motif_recall=mean(m["found"] is not None for m in motifs),
                   motif_exact=mean(m["exact"] for m in motifs),
                   motif_within_tolerance=mean(m["within_tolerance"] for m in motifs),
                   motifs_expected=len(motifs))
        out["motif_exact_by_key"] = {k: mean(m["exact"] for m in motifs if m["key"] == k)
                                     for k in sorted({m["key"] for m in motifs})}
    return out
