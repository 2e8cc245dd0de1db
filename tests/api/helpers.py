"""Helpers of the API tests: a live uvicorn server on 127.0.0.1, SSE reading (httpx-sse), a fixed-latency fake chat
model for the real AgentService (it replaces only the LLM endpoint; the graph, the service and the HTTP stack are
the real ones), and a small in-memory knowledge base and tool for the tests that do not need the real ones."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import StructuredTool
from pydantic import ConfigDict, Field

from agent.kb.models import Hit, IngestReport

API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- a live server --------------------------------------------------------------------------------------------


class LiveServer:
    """uvicorn serving ``app`` on a free 127.0.0.1 port, in a background thread with its own event loop."""

    def __init__(self, app, *, log_level: str = "warning") -> None:
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level=log_level, lifespan="on", timeout_graceful_shutdown=3,
                                limit_concurrency=None, backlog=512)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True,
                                        name=f"uvicorn-{self.port}")

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()

    @property
    def ctx(self):
        return self.app.state.ctx


# -- jobs -----------------------------------------------------------------------------------------------------


def wait_job(server_url: str, job_id: str, headers: dict, timeout: float = 120.0) -> dict:
    """Poll ``GET /v1/jobs/{id}`` until the job has ended; returns its last status."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        status = httpx.get(f"{server_url}/v1/jobs/{job_id}", headers=headers, timeout=30).json()
        if status["state"] in ("done", "failed", "cancelled"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def ingest(server_url: str, files: list, headers: dict, timeout: float = 120.0, **data) -> dict:
    """Upload ``files`` (httpx ``files=``) and wait for the job."""
    import httpx

    r = httpx.post(f"{server_url}/v1/ingest", files=files, data=data or None, headers=headers, timeout=timeout)
    assert r.status_code == 202, r.text
    return wait_job(server_url, r.json()["job_id"], headers, timeout)


# -- SSE ------------------------------------------------------------------------------------------------------


def sse_events(response) -> Iterator[tuple[str, dict | str]]:
    """(event name, JSON data) of an SSE response, read by httpx-sse (a third-party SSE client)."""
    from httpx_sse import EventSource

    for sse in EventSource(response).iter_sse():
        try:
            yield sse.event, json.loads(sse.data)
        except ValueError:
            yield sse.event, sse.data


# -- fake chat models -----------------------------------------------------------------------------------------


def _stage(messages: list[BaseMessage]) -> str:
    """Which graph stage a call comes from, by its system prompt (``answer`` or ``other``)."""
    try:
        from agent.prompts import ANSWER_SYSTEM
    except ImportError:  # pragma: no cover
        return "unknown"
    prefix = ANSWER_SYSTEM.split("{", 1)[0][:80]
    for m in messages:
        if getattr(m, "type", "") == "system":
            return "answer" if str(m.content).startswith(prefix) else "other"
    return "unknown"


class CallLog:
    """Shared counters of a fake model (the model object itself may be copied by ``bind``)."""

    def __init__(self) -> None:
        self.calls = 0
        self.streams = 0
        self.cancelled = 0
        self.finished = 0
        self.lock = threading.Lock()

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


class FixedLatencyChatModel(BaseChatModel):
    """Answers every call after a fixed latency, streaming its text token by token.

    Stands in for the LLM endpoint only. It makes no tool calls and its text is not valid structured output, so
    the graph's guards decide the route; ``latency_s`` is the time to the first token, ``token_delay_s`` the time
    between tokens. ``log`` counts calls and the calls that were cancelled (a client that went away).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    answer: str = "Rep proteins start rolling-circle replication of CRESS-DNA virus genomes."
    latency_s: float = 0.0
    token_delay_s: float = 0.0
    slow_stages: tuple[str, ...] = ("answer", "unknown")
    """Graph stages (told apart by their system prompt) whose tokens come ``token_delay_s`` apart; the other calls
    (route, rewrite, grade...) answer after ``latency_s``."""
    prompt_tokens: int = 20
    log: CallLog = Field(default_factory=CallLog)

    @property
    def _llm_type(self) -> str:
        return "fixed-latency-fake"

    def bind_tools(self, tools: Any, **kwargs: Any):  # tool schemas are accepted; this model never calls tools
        return self

    def _delay(self, messages: list[BaseMessage]) -> float:
        return self.token_delay_s if _stage(messages) in self.slow_stages else 0.0

    def _tokens(self) -> list[str]:
        words = self.answer.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]

    def _result(self) -> ChatResult:
        usage = {"input_tokens": self.prompt_tokens, "output_tokens": len(self._tokens()),
                 "total_tokens": self.prompt_tokens + len(self._tokens())}
        message = AIMessage(content=self.answer, usage_metadata=usage,
                            response_metadata={"token_usage": {"prompt_tokens": self.prompt_tokens,
                                                               "completion_tokens": len(self._tokens())}})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        self.log.add("calls")
        time.sleep(self.latency_s + self._delay(messages) * len(self._tokens()))
        self.log.add("finished")
        return self._result()

    async def _agenerate(self, messages: list[BaseMessage], stop=None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.log.add("calls")
        try:
            await asyncio.sleep(self.latency_s + self._delay(messages) * len(self._tokens()))
        except asyncio.CancelledError:
            self.log.add("cancelled")
            raise
        self.log.add("finished")
        return self._result()

    async def _astream(self, messages: list[BaseMessage], stop=None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        self.log.add("calls")
        self.log.add("streams")
        tokens = self._tokens()
        delay = self._delay(messages)
        try:
            await asyncio.sleep(self.latency_s)
            for i, token in enumerate(tokens):
                if i and delay:
                    await asyncio.sleep(delay)
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
                if run_manager:
                    await run_manager.on_llm_new_token(token, chunk=chunk)
                yield chunk
            usage = {"input_tokens": self.prompt_tokens, "output_tokens": len(tokens),
                     "total_tokens": self.prompt_tokens + len(tokens)}
            yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))
        except (asyncio.CancelledError, GeneratorExit):
            self.log.add("cancelled")
            raise
        self.log.add("finished")


# -- a knowledge base and tools in memory ----------------------------------------------------------------------

PASSAGES = [
    Hit(chunk_id="pcv2-rep#0", doc_id="pcv2-rep", title="The Rep protein of porcine circovirus 2", source="file",
        text="The PCV2 Rep protein initiates rolling-circle replication and carries motifs I, II and III and an "
             "SF3 helicase domain.", score=0.9, scores={"dense": 0.8}),
    Hit(chunk_id="cress#1", doc_id="cress", title="CRESS-DNA viruses", source="file",
        text="CRESS-DNA viruses have small circular single-stranded DNA genomes that encode a Rep protein.",
        score=0.7, scores={"dense": 0.6}),
]


class MemoryKB:
    """A knowledge base in memory with the methods the agent and the API call (search, stats, ingest_paths)."""

    def __init__(self) -> None:
        self.hits = list(PASSAGES)
        self.ingested: list[str] = []

    def search(self, query: str, k: int = 6, rerank: bool | None = None, filters: Any = None, **_: Any) -> list[Hit]:
        return self.hits[:k]

    def stats(self) -> dict:
        return {"backend": "memory", "location": "test", "documents": 2, "chunks": len(self.hits)}

    def ingest_paths(self, paths, progress: bool = False, **_: Any) -> IngestReport:
        report = IngestReport()
        for p in paths:
            p = Path(p)
            self.ingested.append(p.name)
            report.added_docs.append(p.stem)
            report.chunks_written += 1
        return report

    def ingest_documents(self, docs, owner: str | None = None) -> IngestReport:
        report = IngestReport()
        for doc in docs:
            self.ingested.append(Path(doc.path).name if doc.path else doc.doc_id)
            report.added_docs.append(f"{owner}:{doc.doc_id}" if owner else doc.doc_id)
            report.chunks_written += 1
        return report

    def list_documents(self) -> list:
        from agent.kb.models import DocumentInfo

        return [DocumentInfo(doc_id=d, title=t, chunks=1) for d, t in {(h.doc_id, h.title) for h in self.hits}]


def annotate_rep(sequence: str) -> dict:
    """Annotate the Rep motifs of a protein sequence."""
    return {"length": len(sequence), "motifs": {"I": "FTLNN"}}


def fake_tools() -> list:
    return [StructuredTool.from_function(annotate_rep, name="annotate_rep", metadata={"server": "sequence"})]
