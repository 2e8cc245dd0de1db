"""Benchmark the agent graph's own overhead with a fake LLM of fixed latency.

    .venv/bin/python bench/agent.py [--latency-ms 200] [--queries 30] [--checkpoint sqlite|memory]

Per query: total wall time, model time (calls x fixed latency), graph overhead = total - model time (target:
<= 5% of the total), p50/p95; and time to the first streamed answer token (and how much of it is not model time).
In-run baseline: the same number of calls to the same fake model made directly, without the graph.
"graph CPU" is the process CPU time per query (the fake model's wait uses none): the graph's own work, which a
loaded machine does not inflate the way it inflates wall time. The knowledge base and the MCP tools are in-process fakes with no latency, so everything measured beyond the
model's latency is the graph: guards, routing, prompt building, state updates, checkpointing, tracing, streaming.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.runner import AgentService  # noqa: E402
from agent.settings import Settings  # noqa: E402
from tests.fixtures.agent import FakeKnowledgeBase, ScriptedChatModel, ToolRecorder, fake_tools  # noqa: E402

PCV2 = (ROOT / "tests" / "data" / "agent" / "pcv2_rep.faa").read_text()
QUERIES = {
    "literature": "What does the Rep protein do in rolling-circle replication?",
    "sequence": "Is this a CRESS Rep, and what does Y96F do?\n" + PCV2,
    "chinese": "圆环病毒Rep蛋白在滚环复制中的功能是什么？",
}
ANSWER = ("Rep initiates rolling-circle replication by nicking the origin [P1]; motif III carries the catalytic "
          "tyrosine [P2]. " * 3).strip()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    i = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[i]


async def run_kind(settings: Settings, kind: str, n: int, latency_s: float) -> dict:
    model = ScriptedChatModel(latency_s=latency_s, script={"answer": [ANSWER]})
    svc = AgentService(settings, chat_model=model, knowledge_base=FakeKnowledgeBase(),
                       tools=fake_tools(ToolRecorder()))
    totals, overheads, shares, ttft, ttft_over, calls, cpu = [], [], [], [], [], [], []
    try:
        await svc.run(QUERIES[kind])  # warm-up (graph compile, checkpointer tables)
        for _ in range(n):
            before = len(model.calls)
            start = time.perf_counter()
            cpu_start = time.process_time()
            first_token = None
            calls_at_first = 0
            async for event in svc.stream(QUERIES[kind]):
                if event.type == "token" and first_token is None:
                    first_token = time.perf_counter() - start
                    calls_at_first = len(model.calls) - before
            total = time.perf_counter() - start
            cpu.append((time.process_time() - cpu_start) * 1000)
            n_calls = len(model.calls) - before
            model_time = n_calls * latency_s
            totals.append(total * 1000)
            overheads.append((total - model_time) * 1000)
            shares.append((total - model_time) / total * 100)
            calls.append(n_calls)
            if first_token is not None:
                ttft.append(first_token * 1000)
                ttft_over.append((first_token - calls_at_first * latency_s) * 1000)
    finally:
        await svc.aclose()
    return {"kind": kind, "n": n, "calls": statistics.mean(calls), "total_p50": pct(totals, 50),
            "total_p95": pct(totals, 95), "over_p50": pct(overheads, 50), "over_p95": pct(overheads, 95),
            "share_p50": pct(shares, 50), "share_p95": pct(shares, 95), "ttft_p50": pct(ttft, 50),
            "ttft_p95": pct(ttft, 95), "ttft_over_p50": pct(ttft_over, 50), "cpu_p50": pct(cpu, 50),
            "cpu_p95": pct(cpu, 95)}


async def baseline(n_calls: int, latency_s: float, n: int) -> dict:
    """In-run baseline: the same number of model calls made directly, one after the other (the answer streamed),
    with no graph around them."""
    from langchain_core.messages import HumanMessage

    model = ScriptedChatModel(latency_s=latency_s, script={"answer": [ANSWER]})
    totals, ttft = [], []
    for _ in range(n):
        start = time.perf_counter()
        for _call in range(max(0, n_calls - 1)):
            await model.ainvoke([HumanMessage(QUERIES["literature"])])
        first = None
        async for _chunk in model.astream([HumanMessage(QUERIES["literature"])]):
            if first is None:
                first = time.perf_counter() - start
        totals.append((time.perf_counter() - start) * 1000)
        ttft.append(first * 1000)
    return {"total_p50": pct(totals, 50), "total_p95": pct(totals, 95), "ttft_p50": pct(ttft, 50)}


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency-ms", type=float, default=200.0, help="fixed latency of each fake LLM call")
    ap.add_argument("--queries", type=int, default=30, help="queries per kind")
    ap.add_argument("--checkpoint", choices=["sqlite", "memory"], default="sqlite")
    ap.add_argument("--target", type=float, default=5.0, help="overhead target, % of the total (p50)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        if args.checkpoint == "memory":
            settings.agent.checkpoint_url = "memory"
        rows = [await run_kind(settings, kind, args.queries, args.latency_ms / 1000) for kind in QUERIES]
        calls = round(max(r["calls"] for r in rows))
        base = await baseline(calls, args.latency_ms / 1000, args.queries)
    print(f"\nAgent graph overhead: fake LLM {args.latency_ms:.0f} ms/call, {args.queries} queries per kind, "
          f"{args.checkpoint} checkpointer\n")
    head = (f"| query | LLM calls | total p50 / p95 (ms) | overhead p50 / p95 (ms) | overhead % p50 / p95 | "
            f"first token p50 / p95 (ms) | first-token overhead p50 (ms) | graph CPU p50 / p95 (ms) |")
    print(head)
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for r in rows:
        print(f"| {r['kind']} | {r['calls']:.1f} | {r['total_p50']:.0f} / {r['total_p95']:.0f} | "
              f"{r['over_p50']:.1f} / {r['over_p95']:.1f} | {r['share_p50']:.2f} / {r['share_p95']:.2f} | "
              f"{r['ttft_p50']:.0f} / {r['ttft_p95']:.0f} | {r['ttft_over_p50']:.1f} | "
              f"{r['cpu_p50']:.1f} / {r['cpu_p95']:.1f} |")
        ok = ok and r["share_p50"] <= args.target
    print(f"| baseline: {calls} direct model calls, no graph | {calls} | {base['total_p50']:.0f} / "
          f"{base['total_p95']:.0f} | - | - | {base['ttft_p50']:.0f} / - | - | - |")
    print("\nGraph vs the in-run baseline (same number of model calls without the graph), p50:")
    for r in rows:
        extra = r["total_p50"] - base["total_p50"]
        print(f"- {r['kind']}: +{extra:.1f} ms ({extra / r['total_p50'] * 100:.2f}% of the graph's total); "
              f"first token +{r['ttft_p50'] - base['ttft_p50']:.1f} ms")
    print(f"\nTarget: overhead <= {args.target:g}% of the total (p50): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
