"""The literature MCP server: the local library, PubMed and Europe PMC as MCP tools.

Run it with ``bioagent mcp literature`` (stdio, for Claude Desktop and the agent), ``python -m
mcp_servers.literature.server``, or ``bioagent mcp literature --transport http`` (streamable HTTP at
``/mcp``; with ``BIOAGENT_MCP__BEARER_TOKEN`` set, every request needs ``Authorization: Bearer <token>``).

Tools never crash the server: a failure (no network, bad PMID, malformed answer from a remote) comes back
as an MCP tool error whose text says what went wrong. The knowledge base (embedding models) is loaded on
the first library call, so the server starts fast.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import Field

from agent.settings import Settings, get_settings
from mcp_servers.literature.errors import LiteratureError
from mcp_servers.serving import http_app, serve

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVER_NAME = "bioagent-literature"
MAX_AUTHORS_SHOWN = 10

INSTRUCTIONS = """\
Literature tools for viral-protein research (CRESS-DNA viruses, Rep proteins, ...).
- search_library: the researcher's own library (PDFs, notes and PubMed abstracts already added). Use it first
  and cite its passages (title, page/section, DOI/PMID).
- search_pubmed / search_europepmc: the public literature, live. Europe PMC also gives open-access full-text
  links and preprints.
- fetch_abstracts: full PubMed records for PMIDs you already have.
- add_to_library: save PubMed records (by PMID or query) into the library so later searches find them.
"""


class _Tools:
    """State behind the tools: settings, lazily made clients, and a lock around the knowledge base."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._kb_lock = threading.Lock()  # one add_to_library at a time (searching is thread-safe)
        self._kb_init_lock = threading.Lock()
        self._pubmed = None
        self._europepmc = None
        self._kb = None

    @property
    def pubmed(self):
        with self._lock:
            if self._pubmed is None:
                from mcp_servers.literature.pubmed import PubMedClient

                self._pubmed = PubMedClient(self.settings)
            return self._pubmed

    @property
    def europepmc(self):
        with self._lock:
            if self._europepmc is None:
                from mcp_servers.literature.europepmc import EuropePMCClient

                self._europepmc = EuropePMCClient(self.settings)
            return self._europepmc

    def kb(self):
        with self._kb_init_lock:
            if self._kb is None:
                from agent.kb.service import get_knowledge_base

                self._kb = get_knowledge_base(self.settings)
            return self._kb


def _article_json(article, include_abstract: bool = True) -> dict[str, Any]:
    data = article.as_dict()
    authors = data.get("authors") or []
    if len(authors) > MAX_AUTHORS_SHOWN:
        data["authors"] = authors[:MAX_AUTHORS_SHOWN] + [f"... ({len(authors)} authors in all)"]
    if not include_abstract:
        data.pop("abstract", None)
    return data


async def _run(tool: str, fn: Callable[[], T]) -> T:
    """Run blocking work in a worker thread; turn every failure into a readable tool error."""
    import anyio

    try:
        return await anyio.to_thread.run_sync(fn)
    except ToolError:
        raise
    except (LiteratureError, ValueError) as exc:
        raise ToolError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - the server must survive anything a tool hits
        kb_error = _kb_error_type()
        if kb_error is not None and isinstance(exc, kb_error):
            raise ToolError(str(exc)) from exc
        log.exception("tool %s failed", tool)
        raise ToolError(f"internal error in {tool}: {type(exc).__name__}: {exc}") from exc


def _kb_error_type():
    try:
        from agent.kb.errors import KBError
    except ImportError:  # pragma: no cover - the KB area is part of the project
        return None
    return KBError


def build_server(settings: Settings | None = None, *, host: str | None = None, port: int | None = None) -> FastMCP:
    """The FastMCP server with the five literature tools (nothing heavy is loaded here)."""
    settings = settings or get_settings()
    state = _Tools(settings)
    mcp = FastMCP(
        SERVER_NAME,
        instructions=INSTRUCTIONS,
        host=host or settings.mcp.host,
        port=port or settings.mcp.port,
        log_level=settings.log_level.upper() if settings.log_level.upper() in
        {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else "WARNING",
    )

    from agent import __version__

    mcp._mcp_server.version = __version__

    def tool(fn):
        """Register ``fn`` as a tool whose description is its docstring, dedented."""
        return mcp.tool(description=inspect.cleandoc(fn.__doc__ or ""))(fn)

    @tool
    async def search_library(
        query: Annotated[str, Field(description="What to look for, in plain words (e.g. 'Rep protein nicking motif').")],
        k: Annotated[int, Field(ge=1, le=50, description="How many passages to return.")] = 6,
        source: Annotated[
            str | None, Field(description="Only this source: 'pubmed', 'file', 'jsonl', 'europepmc', ...")
        ] = None,
        year_min: Annotated[int | None, Field(description="Only documents published in or after this year.")] = None,
        year_max: Annotated[int | None, Field(description="Only documents published in or before this year.")] = None,
    ) -> dict[str, Any]:
        """Search the researcher's own literature library (their PDFs, notes and saved PubMed abstracts).

        Hybrid (dense + keyword) search. Returns passages with document title, source, page or section,
        year, DOI/PMID and scores; cite them by title and page/PMID. Use this before the public searches.
        """
        from mcp_servers.literature.library import hit_to_dict, search_library as _search

        def work():
            hits = _search(query, k, source=source, year_min=year_min, year_max=year_max, kb=state.kb())
            return {
                "query": query,
                "count": len(hits),
                "passages": [hit_to_dict(h, i + 1) for i, h in enumerate(hits)],
                **({} if hits else {"note": "No passages matched. The library may be empty or filtered too "
                                             "narrowly; add_to_library can add PubMed records."}),
            }

        return await _run("search_library", work)

    @tool
    async def search_pubmed(
        query: Annotated[str, Field(description="PubMed query, PubMed syntax allowed (e.g. 'circovirus AND Rep[tiab]').")],
        max_results: Annotated[int, Field(ge=1, le=100, description="How many records to return.")] = 10,
        mindate: Annotated[str | None, Field(description="Earliest publication date: YYYY, YYYY/MM or YYYY/MM/DD.")] = None,
        maxdate: Annotated[str | None, Field(description="Latest publication date: YYYY, YYYY/MM or YYYY/MM/DD.")] = None,
        sort: Annotated[Literal["relevance", "pub_date"], Field(description="'relevance' or 'pub_date' (newest first).")]
        = "relevance",
        include_abstracts: Annotated[bool, Field(description="Include each abstract (longer output).")] = True,
    ) -> dict[str, Any]:
        """Search PubMed (NCBI, live) and return records: PMID, title, authors, journal, year, DOI, MeSH, abstract.

        Use for the public biomedical literature beyond the local library. Needs internet access.
        """

        def work():
            result = state.pubmed.search(query, max_results, mindate=mindate, maxdate=maxdate, sort=sort)
            return {
                "query": query,
                "total_hits": result.count,
                "returned": len(result.articles),
                "query_translation": result.query_translation,
                "warnings": result.warnings,
                "articles": [_article_json(a, include_abstracts) for a in result.articles],
            }

        return await _run("search_pubmed", work)

    @tool
    async def search_europepmc(
        query: Annotated[str, Field(description="Europe PMC query (e.g. 'circovirus Rep' or 'TITLE:\"rolling circle\"').")],
        max_results: Annotated[int, Field(ge=1, le=100, description="How many records to return.")] = 10,
        open_access_only: Annotated[bool, Field(description="Only open-access articles (full text available).")] = False,
        year_min: Annotated[int | None, Field(description="Only articles published in or after this year.")] = None,
        year_max: Annotated[int | None, Field(description="Only articles published in or before this year.")] = None,
        sort: Annotated[Literal["relevance", "date", "cited"], Field(description="relevance, date (newest) or cited.")]
        = "relevance",
        include_abstracts: Annotated[bool, Field(description="Include each abstract (longer output).")] = True,
    ) -> dict[str, Any]:
        """Search Europe PMC (live): PubMed plus preprints and PMC, with open-access full-text links.

        Returns id, source, PMID/PMCID, DOI, title, authors, journal, year, abstract, open-access flag and
        links to free full text (HTML/PDF/JATS XML). Use when full text or preprints matter.
        """

        def work():
            result = state.europepmc.search(
                query, max_results, open_access_only=open_access_only, year_min=year_min, year_max=year_max,
                sort=sort,
            )
            return {
                "query": query,
                "total_hits": result.hit_count,
                "returned": len(result.articles),
                "articles": [_article_json(a, include_abstracts) for a in result.articles],
            }

        return await _run("search_europepmc", work)

    @tool
    async def fetch_abstracts(
        pmids: Annotated[
            list[str | int], Field(min_length=1, max_length=200, description="PubMed IDs, e.g. ['27797938'].")
        ],
    ) -> dict[str, Any]:
        """Fetch full PubMed records (title, abstract, authors, journal, year, DOI, MeSH) for known PMIDs."""
        from mcp_servers.literature.pubmed import normalize_pmids

        def work():
            ids = normalize_pmids(pmids)
            articles = state.pubmed.efetch(ids)
            got = {a.pmid for a in articles}
            return {
                "requested": ids,
                "articles": [_article_json(a) for a in articles],
                "not_found": [p for p in ids if p not in got],
            }

        return await _run("fetch_abstracts", work)

    @tool
    async def add_to_library(
        pmids: Annotated[list[str | int] | None, Field(max_length=1000, description="PubMed IDs to add.")] = None,
        query: Annotated[str | None, Field(description="Or a PubMed query whose top hits are added.")] = None,
        max_results: Annotated[int, Field(ge=1, le=500, description="With a query: how many top hits to add.")] = 20,
        full_text: Annotated[bool, Field(description="Also fetch Europe PMC open-access full text (JATS) and "
                                         "ingest it by section; records without one keep the abstract.")] = False,
    ) -> dict[str, Any]:
        """Add PubMed records (by PMIDs and/or a query) to the local library so search_library finds them.

        Idempotent: PMIDs already in the library are skipped. Returns what was added, skipped and not found.
        """
        from mcp_servers.literature.library import ingest_pubmed

        def work():
            kb = state.kb()
            with state._kb_lock:
                report = ingest_pubmed(
                    query=query, pmids=pmids or [], max_results=max_results, settings=settings, kb=kb,
                    client=state.pubmed, full_text=full_text, europepmc=state.europepmc if full_text else None,
                )
            return {"summary": report.summary(), **report.model_dump()}

        return await _run("add_to_library", work)

    return mcp


def build_http_app(settings: Settings | None = None, *, host: str | None = None, port: int | None = None):
    """The streamable-HTTP ASGI app (MCP endpoint at ``/mcp``), behind the bearer token when one is set."""
    settings = settings or get_settings()
    return http_app(build_server(settings, host=host, port=port), settings, realm=SERVER_NAME)


def main(transport: str = "stdio", host: str | None = None, port: int | None = None) -> None:
    """Run the server: ``stdio`` (default) or ``http`` (streamable HTTP, optional bearer token)."""
    serve(build_server, SERVER_NAME, transport, host, port)


if __name__ == "__main__":
    from mcp_servers.serving import module_main

    module_main(build_server, "literature")
