"""What the UI tests put in place of the LLM endpoint and, for speed, of the vector store.

- ``UIFakeChat``: LangChain's GenericFakeChatModel answering every call with one fixed text (so its replies are
  never valid structured output and the graph's guards decide the route), streaming it word by word, and
  recording the sampling settings each call ran with. It is injected into the real AgentService.
- ``MemoryKnowledgeBase``: the knowledge base's interface (ingest_paths, search, list_documents, remove, stats)
  in memory, one passage per paragraph, lexical scores. The tests that exercise the real embedded store use
  ``agent.kb.get_knowledge_base`` instead.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import StructuredTool
from pydantic import Field

from agent.kb.models import DocumentInfo, Hit, IngestReport

ANSWER = "The PCV2 Rep protein starts rolling-circle replication [P1]."
REP_TEXT = ("The PCV2 Rep protein starts rolling-circle replication: it nicks the origin with its motifs I, II and "
            "III, and its SF3 helicase domain with Walker A and B motifs unwinds the DNA.")


class UIFakeChat(GenericFakeChatModel):
    """A fixed answer for every call, streamed word by word; records (temperature, top_p) per call."""

    messages: Any = Field(default_factory=lambda: itertools.repeat(AIMessage(content=ANSWER)))
    temperature: float | None = None
    top_p: float | None = None
    delay_s: float = 0.0  # before each reply
    seen: list = Field(default_factory=list)  # shared by the copies the service makes for per-run overrides

    def bind_tools(self, tools: Any, **kwargs: Any):  # tool schemas accepted; this model never calls tools
        return self

    def _generate(self, *args: Any, **kwargs: Any):
        self.seen.append((self.temperature, self.top_p))
        time.sleep(self.delay_s)
        return super()._generate(*args, **kwargs)


def sequence_tools(*, esm: bool = False) -> list:
    """The sequence core's functions as the agent's tools (what the sequence MCP server serves, in-process):
    annotate_rep, and with ``esm`` also properties and mutational_scan (these need an ESM checkpoint)."""
    from mcp_servers.sequence import service

    def annotate_rep(sequence: str) -> dict:
        """Find the rolling-circle replication and SF3 helicase motifs of a Rep protein."""
        return service.annotate_rep(sequence)

    def properties(sequence: str) -> dict:
        """Physico-chemical properties of a protein."""
        return service.properties(sequence)

    def mutational_scan(sequence: str, top: int = 10) -> dict:
        """ESM-2 deep mutational scan of a protein."""
        return service.mutational_scan(sequence, top=top)

    fns = [annotate_rep, properties, mutational_scan] if esm else [annotate_rep]
    return [StructuredTool.from_function(fn, name=fn.__name__, metadata={"server": "sequence"}) for fn in fns]


class MemoryKnowledgeBase:
    """The knowledge base's interface in memory: one document per file, one passage per paragraph."""

    def __init__(self, docs: dict[str, str] | None = None):
        self.docs: dict[str, dict] = {}
        for doc_id, text in (docs or {}).items():
            self.docs[doc_id] = {"title": doc_id, "chunks": [p.strip() for p in text.split("\n\n") if p.strip()]}

    def ingest_paths(self, paths, progress=False, **_):
        started = time.perf_counter()
        report = IngestReport()
        for path in paths:
            path = Path(path)
            text = path.read_text(encoding="utf-8", errors="replace")
            if not text.strip():
                report.errors.append(f"{path.name}: empty file")
                continue
            doc_id = path.stem
            (report.replaced_docs if doc_id in self.docs else report.added_docs).append(doc_id)
            chunks = [p.strip() for p in text.split("\n\n") if p.strip()]
            self.docs[doc_id] = {"title": path.stem, "chunks": chunks}
            report.chunks_written += len(chunks)
        report.seconds = time.perf_counter() - started
        return report

    def list_documents(self):
        return [DocumentInfo(doc_id=d, title=v["title"], source="file", chunks=len(v["chunks"]))
                for d, v in self.docs.items()]

    def search(self, query, k=6, filters=None, **_):
        words = {w.strip(".,:;?").lower() for w in query.split()}
        hits = []
        for doc_id, doc in self.docs.items():
            for i, chunk in enumerate(doc["chunks"]):
                overlap = len(words & {w.strip(".,:;?").lower() for w in chunk.split()})
                if overlap:
                    hits.append(Hit(chunk_id=f"{doc_id}#{i}", doc_id=doc_id, title=doc["title"], text=chunk,
                                    source="file", page=i + 1, score=overlap / len(words),
                                    scores={"sparse": float(overlap), "rrf": overlap / len(words)}))
        return sorted(hits, key=lambda h: -h.score)[: k or 6]

    def remove(self, doc_id):
        return len(self.docs.pop(doc_id)["chunks"])

    def stats(self):
        return {"documents": len(self.docs), "chunks": sum(len(d["chunks"]) for d in self.docs.values()),
                "backend": "memory"}
