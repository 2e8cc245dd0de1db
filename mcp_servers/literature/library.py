"""The researcher's own library (the knowledge base): search it, and pull PubMed records into it.

The knowledge base is imported lazily (it loads embedding models), so the remote clients, the CLI's help
and the MCP server start without it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from agent.settings import Settings, get_settings
from mcp_servers.literature.errors import LiteratureError, LiteratureInputError
from mcp_servers.literature.europepmc import EuropePMCClient
from mcp_servers.literature.jats import JatsArticle, parse_jats
from mcp_servers.literature.models import PubMedArticle, PullReport
from mcp_servers.literature.pubmed import PubMedClient, PubMedSort, normalize_pmids

if TYPE_CHECKING:  # pragma: no cover
    from agent.kb.models import Hit, Record
    from agent.kb.service import KnowledgeBase

log = logging.getLogger(__name__)

PULL_BATCH = 100  # records per efetch + ingest round


def pmid_doc_id(pmid: str) -> str:
    return f"pmid:{pmid}"


def article_to_record(article: PubMedArticle, full: JatsArticle | None = None) -> Record:
    """A PubMed record as a knowledge-base document (``id = pmid:<PMID>``): the abstract, or with ``full``
    (its open-access JATS full text) the abstract, body sections, captions and table rows, and the reference
    list stored apart."""
    from agent.kb.models import Record, RecordSection

    metadata: dict[str, Any] = {"authors": article.authors, "journal": article.journal, "mesh": article.mesh_terms}
    if article.pmcid:
        metadata["pmcid"] = article.pmcid
    if article.keywords:
        metadata["keywords"] = article.keywords
    if full is not None:
        metadata.update({"full_text": True, "text_source": "europepmc:fullTextXML"})
        if full.license:
            metadata["license"] = full.license
        metadata["pmcid"] = full.pmcid or article.pmcid
        return Record(
            id=pmid_doc_id(article.pmid), title=article.title or full.title,
            text=article.abstract or article.title or full.title or f"PubMed record {article.pmid}",
            source="pubmed", year=article.year or full.year, doi=article.doi or full.doi, pmid=article.pmid,
            url=article.url, metadata=metadata, sections=[RecordSection(**sec) for sec in full.sections],
        )
    return Record(
        id=pmid_doc_id(article.pmid),
        title=article.title,
        text=article.abstract or article.title or f"PubMed record {article.pmid}",
        source="pubmed",
        year=article.year,
        doi=article.doi,
        pmid=article.pmid,
        url=article.url,
        metadata=metadata,
    )


def _knowledge_base(settings: Settings | None) -> KnowledgeBase:
    from agent.kb.service import get_knowledge_base

    return get_knowledge_base(settings)


def ingest_pubmed(
    query: str | None = None,
    pmids: Iterable[str | int] | None = None,
    max_results: int | None = None,
    *,
    mindate: str | int | None = None,
    maxdate: str | int | None = None,
    sort: PubMedSort = "relevance",
    settings: Settings | None = None,
    kb: KnowledgeBase | None = None,
    client: PubMedClient | None = None,
    progress: bool = False,
    full_text: bool = False,
    europepmc: EuropePMCClient | None = None,
) -> PullReport:
    """Fetch PubMed records for a query and/or PMIDs and add them to the library.

    Idempotent by PMID: records already in the library (document id ``pmid:<PMID>``) are skipped before
    anything is fetched, and counted in ``skipped_existing``. With ``full_text``, records that have a PMCID
    get Europe PMC's open-access JATS full text, ingested by section (``full_text`` in the report); records
    without one, or whose full text cannot be fetched or read (a warning), keep the abstract. Remote failures raise (``RemoteUnavailable``
    etc.) before the library is touched, or, mid-way, after the batches already added are kept.
    """
    started = time.perf_counter()
    settings = settings or get_settings()
    given = normalize_pmids(pmids or [])
    query = (query or "").strip() or None
    if not query and not given:
        raise LiteratureInputError("give a PubMed query or at least one PMID")
    own_client = client is None
    client = client or PubMedClient(settings)
    own_epmc = full_text and europepmc is None
    if full_text and europepmc is None:
        europepmc = EuropePMCClient(settings)
    try:
        report = PullReport(query=query)
        wanted = list(given)
        if query:
            hits = client.esearch(
                query, settings.literature.max_results if max_results is None else max_results,
                mindate=mindate, maxdate=maxdate, sort=sort,
            )
            report.search_count = hits.count
            report.warnings.extend(hits.warnings)
            wanted += [p for p in hits.pmids if p not in set(given)]
        report.requested = wanted
        if not wanted:
            report.seconds = time.perf_counter() - started
            return report
        kb = kb or _knowledge_base(settings)
        todo = []
        for pmid in wanted:
            (report.skipped_existing if kb.has_document(pmid_doc_id(pmid)) else todo).append(pmid)
        for i in range(0, len(todo), PULL_BATCH):
            batch = todo[i : i + PULL_BATCH]
            articles = client.efetch(batch)
            got = {a.pmid for a in articles}
            report.not_found += [p for p in batch if p not in got]
            report.without_abstract += [a.pmid for a in articles if not a.abstract]
            if not articles:
                continue
            fulls = _full_texts(articles, europepmc, report) if full_text and europepmc is not None else {}
            records = [article_to_record(a, fulls.get(a.pmid)) for a in articles]
            result = kb.ingest_records(records, progress=progress)
            report.chunks_written += result.chunks_written
            report.warnings += result.warnings
            report.errors += result.errors
            done = set(result.added_docs) | set(result.replaced_docs)
            unchanged = set(result.unchanged_docs)
            for a in articles:
                doc_id = pmid_doc_id(a.pmid)
                if doc_id in done:
                    report.added.append(a.pmid)
                elif doc_id in unchanged:
                    report.skipped_existing.append(a.pmid)
    finally:
        if own_client:
            client.close()
        if own_epmc and europepmc is not None:
            europepmc.close()
    report.seconds = time.perf_counter() - started
    log.info(report.summary())
    return report


def _full_texts(articles: list[PubMedArticle], europepmc: EuropePMCClient, report: PullReport) -> dict[str, JatsArticle]:
    """PMID -> parsed open-access full text, for the articles that have one (failures become warnings)."""
    out: dict[str, JatsArticle] = {}
    for a in articles:
        if not a.pmcid:
            continue
        try:
            xml = europepmc.full_text_xml(a.pmcid)
            parsed = parse_jats(xml) if xml else None
        except LiteratureError as exc:
            report.warnings.append(f"PMID {a.pmid} ({a.pmcid}): no full text, abstract kept ({exc})")
            continue
        if parsed is not None and parsed.has_body:
            out[a.pmid] = parsed
            report.full_text.append(a.pmid)
    return out


def search_library(
    query: str,
    k: int | None = None,
    *,
    source: str | Sequence[str] | None = None,
    year_min: int | None = None,
    year_max: int | None = None,
    doc_id: str | Sequence[str] | None = None,
    rerank: bool | None = None,
    settings: Settings | None = None,
    kb: KnowledgeBase | None = None,
) -> list[Hit]:
    """Hybrid search over the local library with optional source/year/document filters."""
    from agent.kb.models import SearchFilters

    query = (query or "").strip()
    if not query:
        raise LiteratureInputError("the library search query is empty")
    if year_min is not None and year_max is not None and year_min > year_max:
        raise LiteratureInputError(f"year_min {year_min} is after year_max {year_max}")
    filters = None
    if source or doc_id or year_min is not None or year_max is not None:
        filters = SearchFilters(
            source=list(source) if isinstance(source, (list, tuple)) else source,
            doc_id=list(doc_id) if isinstance(doc_id, (list, tuple)) else doc_id,
            year_min=year_min,
            year_max=year_max,
        )
    kb = kb or _knowledge_base(settings)
    return kb.search(query, k=k, filters=filters, rerank=rerank)


def hit_to_dict(hit: Hit, rank: int | None = None) -> dict[str, Any]:
    """A passage as plain JSON for tools and the CLI: text, where it comes from, and each stage's score."""
    out: dict[str, Any] = {}
    if rank is not None:
        out["rank"] = rank
    out.update(
        {
            "citation": hit.citation(),
            "title": hit.title,
            "text": hit.text,
            "source": hit.source,
            "page": hit.page,
            "section": hit.section,
            "year": hit.year,
            "doi": hit.doi,
            "pmid": hit.pmid,
            "url": hit.url,
            "doc_id": hit.doc_id,
            "chunk_id": hit.chunk_id,
            "score": round(float(hit.score), 6),
            "scores": {k: round(float(v), 6) for k, v in hit.scores.items()},
        }
    )
    return out
