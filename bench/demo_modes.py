"""Time the two `bioagent demo` questions in each agent mode, against `guarded` (the old behaviour) as baseline.

    python -P bench/demo_modes.py [--modes guarded,evidence] [--data-dir DIR]

Uses the configured endpoint (unset: the embedded llama.cpp server with the bundled SmolLM2-135M), the sample
library (ingested once into --data-dir) and the real MCP servers over stdio, as `bioagent demo` does. Prints one
row per mode and question: seconds, model calls, answer mode, and the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from agent.ask_cli import DEMO_LITERATURE_QUESTION, DEMO_SEQUENCE_QUESTION, EXAMPLE_LIBRARY
from agent.events import RunOverrides


async def run_mode(mode: str, warm: bool = True) -> list[tuple[str, float, int, str, str]]:
    from agent.context import load_knowledge_base
    from agent.runner import AgentService
    from agent.settings import get_settings

    settings = get_settings()
    svc = AgentService(settings)
    rows = []
    try:
        kb = await asyncio.to_thread(load_knowledge_base, settings)
        await asyncio.to_thread(kb.ingest_paths, [EXAMPLE_LIBRARY])
        if warm:  # as `bioagent demo` does after ingesting: the search models load before the first question
            await asyncio.to_thread(kb.search, "Rep protein rolling-circle replication", k=1)
        await svc.start()
        for name, q in (("literature", DEMO_LITERATURE_QUESTION), ("sequence", DEMO_SEQUENCE_QUESTION)):
            start = time.perf_counter()
            r = await svc.run(q, overrides=RunOverrides(mode=mode))
            nodes = ", ".join(f"{e.node} {e.data['duration_ms'] / 1000:.1f}" for e in r.trace if e.type == "step")
            rows.append((name, time.perf_counter() - start, r.usage.get("llm_calls", 0), r.answer_mode or "",
                         f"[{nodes}] " + r.answer.replace("\n", " | ")[:300]))
    finally:
        await svc.aclose()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="guarded,evidence")
    ap.add_argument("--data-dir", default=None, help="BIOAGENT_DATA_DIR for this run (the library is ingested there).")
    args = ap.parse_args()
    if args.data_dir:
        os.environ["BIOAGENT_DATA_DIR"] = str(Path(args.data_dir).resolve())
    results = {m: asyncio.run(run_mode(m)) for m in args.modes.split(",")}
    base = {name: secs for name, secs, *_ in results.get("guarded", [])}
    print(f"\nload average: {os.getloadavg()}, cores: {os.cpu_count()}")
    print("| mode | question | seconds | vs guarded | model calls | answer mode |")
    print("|---|---|---|---|---|---|")
    for mode, rows in results.items():
        for name, secs, calls, amode, _ in rows:
            rel = f"{secs / base[name]:.2f}x" if name in base else "-"
            print(f"| {mode} | {name} | {secs:.1f} | {rel} | {calls} | {amode} |")
    for mode, rows in results.items():
        for name, _, _, _, answer in rows:
            print(f"\n[{mode} / {name}] {answer}")


if __name__ == "__main__":
    main()
