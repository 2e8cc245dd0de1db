"""LangGraph-standard serving: a real `langgraph dev` process serves the graph of langgraph.json (the factory in
agent/langgraph_app.py) with the knowledge base and the MCP tools, and the official `langgraph_sdk` client
creates a thread, streams a run (a sequence question: the annotate_rep tool of the real sequence MCP server runs)
and reads the thread state. The library is the real embedded Qdrant in a tmp data dir; the LLM endpoint is the
deterministic OpenAI-compatible fake of the UI tests (the graph's guards route a sequence question to the tools
whatever the model says, and a real model's minutes per call on a shared CPU would only slow the test down)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.llm import free_port
from tests.fixtures.procs import start, stop, wait_http
from tests.ui.fake_openai import FakeOpenAI
from tests.ui.fakes import REP_TEXT

ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).with_name("langgraph")
PCV2_REP = ("MPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQGFANFVKKQTFNKVKWYLGARCHIEKAKGTDQQNKEYCSKEG"
            "NLLIECGAPRSQGQRSDLSTAVSTLLESGSLVTVAEQHPVTFVRNFRGLAELLKVSGKMQKRDWKTNVHVIVGPPGCGKSKWAANFADPETTYWKPPRNK"
            "WWDGYHGEEVVVIDDFYGWLPWDDLLRLCDRYPLTVETKGGTVPFLARSILITSNQTPLEWYSSTAVPAVEALYRRITSLVFWKNATEQSTEEGGQFVTLS"
            "PPCPEFPYEINY")
QUESTION = f"Which Rep motifs does this protein have?\n>pcv2_rep\n{PCV2_REP}"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LANGGRAPH.exists() and shutil.which("langgraph") is None,
                       reason="langgraph-cli[inmem] is not installed (pip install -e '.[dev]')"),
]


@pytest.fixture(scope="module")
def langgraph_dev(tmp_path_factory):
    """`langgraph dev --no-browser --port P` on this checkout's langgraph.json, with a library holding one Rep
    passage, the fake LLM endpoint and the sequence MCP server (literature off: no network)."""
    from agent.kb.service import KnowledgeBase
    from agent.settings import Settings

    tmp = tmp_path_factory.mktemp("langgraph-dev")
    data_dir = tmp / "data"
    doc = tmp / "pcv2-rep.md"
    doc.write_text(f"# The Rep protein of porcine circovirus 2\n\n{REP_TEXT}\n", encoding="utf-8")
    with KnowledgeBase(Settings(data_dir=data_dir)) as kb:  # closed before the server opens the same store
        kb.ingest_paths([doc])

    # This checkout's langgraph.json, its paths made absolute: the server runs in the tmp dir (where it keeps its
    # .langgraph_api state), not in the repository.
    spec = json.loads((ROOT / "langgraph.json").read_text())
    spec["dependencies"] = [str((ROOT / d).resolve()) for d in spec["dependencies"]]
    spec["graphs"] = {name: f"{(ROOT / ref.split(':')[0]).resolve()}:{ref.split(':')[1]}"
                      for name, ref in spec["graphs"].items()}
    config = tmp / "langgraph.json"
    config.write_text(json.dumps(spec))

    port = free_port()
    log = tmp / "langgraph-dev.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIOAGENT_", "LANGSMITH_", "LANGCHAIN_"))}
    env.update(BIOAGENT_DATA_DIR=str(data_dir), BIOAGENT_MCP__LITERATURE__ENABLED="false", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONPATH=str(ROOT), LANGGRAPH_CLI_NO_ANALYTICS="1", LANGSMITH_TRACING="false",
               LANGCHAIN_TRACING_V2="false", LANGSMITH_API_KEY="", LANGGRAPH_NO_VERSION_CHECK="1")
    command = [str(LANGGRAPH) if LANGGRAPH.exists() else "langgraph", "dev", "--no-browser", "--no-reload",
               "--host", "127.0.0.1", "--port", str(port), "--config", str(config)]
    llm = FakeOpenAI().__enter__()
    env["BIOAGENT_LLM__BASE_URL"] = llm.base_url
    proc = start(command, env, tmp, log)
    url = f"http://127.0.0.1:{port}"
    try:
        startup_s = wait_http(f"{url}/ok", proc, log, "`langgraph dev`")
        yield {"url": url, "log": log, "startup_s": startup_s, "llm": llm}
    finally:
        llm.__exit__(None, None, None)
        stop(proc)


async def _thread_run_state(url: str) -> tuple[dict, list, dict, float]:
    from langgraph_sdk import get_client

    client = get_client(url=url)
    thread = await client.threads.create()
    started = time.monotonic()
    chunks = []
    async for chunk in client.runs.stream(thread["thread_id"], "bioagent",
                                          input={"messages": [{"role": "user", "content": QUESTION}]},
                                          stream_mode=["updates", "events"]):
        chunks.append(chunk)
    run_s = time.monotonic() - started
    state = await client.threads.get_state(thread["thread_id"])
    return thread, chunks, state, run_s


def test_langgraph_dev_serves_the_graph_with_mcp_tools_and_the_library(langgraph_dev):
    thread, chunks, state, run_s = asyncio.run(_thread_run_state(langgraph_dev["url"]))
    print(f"langgraph dev up in {langgraph_dev['startup_s']:.1f} s; run streamed in {run_s:.1f} s")

    errors = [c.data for c in chunks if c.event == "error"]
    assert not errors, f"{errors}\n{langgraph_dev['log'].read_text()[-4000:]}"
    updates = [c.data for c in chunks if c.event == "updates"]
    nodes = [node for update in updates for node in update]
    assert "route" in nodes and "run_tools" in nodes and nodes[-1] == "verify", nodes
    # Tool events: the MCP tool ran as a LangChain tool inside the run.
    tool_starts = [c.data for c in chunks if c.event == "events" and c.data.get("event") == "on_tool_start"]
    tool_ends = [c.data for c in chunks if c.event == "events" and c.data.get("event") == "on_tool_end"]
    assert any(e.get("name") == "annotate_rep" for e in tool_starts), [e.get("name") for e in tool_starts]
    assert any(e.get("name") == "annotate_rep" for e in tool_ends)

    values = state["values"]
    results = {r["name"]: r for r in values["tool_results"]}
    assert results["annotate_rep"]["ok"], results["annotate_rep"]
    motifs = {m["name"] for rec in results["annotate_rep"]["content"]["records"] for m in rec.get("motifs", [])}
    assert {"Walker A", "Walker B"} <= motifs or len(motifs) >= 3, motifs  # the PCV2 Rep's motifs were found
    # The knowledge base answered too: a passage from the tmp library was retrieved.
    assert any("porcine circovirus 2" in (p.get("title") or "") for p in values["passages"]), values["passages"]
    assert values["messages"][-1]["type"] == "ai" and values["messages"][-1]["content"]
    assert state["next"] == [] and thread["thread_id"] == state["checkpoint"]["thread_id"]
    assert langgraph_dev["llm"].requests, "the graph never called the configured LLM endpoint"
