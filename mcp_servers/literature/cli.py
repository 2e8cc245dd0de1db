"""`bioagent lit ...`: PubMed and Europe PMC from the command line, and pulling PubMed records into the library.

    bioagent lit pull "circovirus Rep protein" --max 200     # build a library from PubMed in one command
    bioagent lit pull --pmids 31452104,29963580              # or from PMIDs
    bioagent lit pubmed "circovirus AND Rep" --max 5          # search PubMed (prints records)
    bioagent lit europepmc "cressdnaviricota" --open-access   # search Europe PMC (open-access links)
    bioagent lit fetch 31452104 29963580 --json               # full records for PMIDs

Remote failures (no network, HTTP errors, malformed answers) print one line to stderr and exit 1; bad input
exits 2.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Any

import typer


class PubMedSortOpt(str, Enum):
    relevance = "relevance"
    pub_date = "pub_date"


class EuropePMCSortOpt(str, Enum):
    relevance = "relevance"
    date = "date"
    cited = "cited"


def _fail(exc: Exception) -> None:
    from mcp_servers.literature.errors import LiteratureInputError

    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2 if isinstance(exc, (LiteratureInputError, ValueError)) else 1)


def _guard(fn):
    """Run fn(); literature/KB errors become a one-line message and an exit code, never a traceback."""
    from mcp_servers.literature.errors import LiteratureError

    errors: tuple[type[BaseException], ...] = (LiteratureError, ValueError)
    try:
        from agent.kb.errors import KBError

        errors += (KBError,)
    except ImportError:  # pragma: no cover
        pass
    try:
        return fn()
    except errors as exc:
        _fail(exc)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _short_authors(authors: list[str], n: int = 3) -> str:
    if not authors:
        return ""
    return ", ".join(authors[:n]) + (" et al." if len(authors) > n else "")


def _echo_article(i: int, a, *, abstract: bool) -> None:
    ids = []
    if getattr(a, "pmid", None):
        ids.append(f"PMID:{a.pmid}")
    if getattr(a, "pmcid", None):
        ids.append(a.pmcid)
    if a.doi:
        ids.append(f"doi:{a.doi}")
    typer.echo(f"{i}. {a.title or '(no title)'}")
    meta = " · ".join(p for p in (_short_authors(a.authors), a.journal, str(a.year or "")) if p)
    if meta:
        typer.echo(f"   {meta}")
    if ids:
        typer.echo(f"   {'  '.join(ids)}")
    links = getattr(a, "open_access_links", None)
    if links:
        typer.echo(f"   open access: {links[0]}")
    if abstract and a.abstract:
        for line in a.abstract.splitlines():
            typer.echo(f"   | {line}")
    typer.echo("")


def _split_pmids(values: list[str] | None) -> list[str]:
    from mcp_servers.literature.pubmed import normalize_pmids

    return normalize_pmids(values or [])


def register(app: typer.Typer) -> None:
    lit = typer.Typer(help="Public literature (PubMed, Europe PMC) and pulling PubMed records into the library.",
                      no_args_is_help=True)

    @lit.command("pull")
    def pull(
        query: str | None = typer.Argument(None, help="PubMed query whose top hits are added."),
        max_results: int | None = typer.Option(None, "--max", min=1, max=10000,
                                               help="How many top hits to add (default: BIOAGENT_LITERATURE__MAX_RESULTS)."),
        pmids: list[str] | None = typer.Option(None, "--pmids", help="PMIDs to add (comma-separated or repeated)."),
        mindate: str | None = typer.Option(None, help="Earliest publication date (YYYY[/MM[/DD]])."),
        maxdate: str | None = typer.Option(None, help="Latest publication date (YYYY[/MM[/DD]])."),
        sort: PubMedSortOpt = typer.Option(PubMedSortOpt.relevance, help="Which hits come first."),
        full_text: bool = typer.Option(False, "--full-text",
                                       help="Ingest Europe PMC's open-access full text (JATS) by section where it exists."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Fetch PubMed records (query and/or PMIDs) and add them to the library; PMIDs already there are skipped."""
        from agent.settings import get_settings
        from mcp_servers.literature.library import ingest_pubmed

        def run():
            ids = _split_pmids(pmids)
            if not query and not ids:
                raise typer.BadParameter("give a QUERY or --pmids")
            return ingest_pubmed(
                query=query, pmids=ids, max_results=max_results, mindate=mindate, maxdate=maxdate,
                sort=sort.value, settings=get_settings(), progress=not json_out and sys.stderr.isatty(),
                full_text=full_text,
            )

        report = _guard(run)
        if json_out:
            _print_json(report.model_dump())
            return
        typer.echo(report.summary())
        if report.search_count is not None:
            typer.echo(f"PubMed hits for the query: {report.search_count}")
        for label, items in (("not found", report.not_found), ("warnings", report.warnings),
                             ("errors", report.errors)):
            if items:
                typer.echo(f"{label}: {', '.join(items[:20])}" + (" ..." if len(items) > 20 else ""))
        if report.errors:
            raise typer.Exit(1)

    @lit.command("pubmed")
    def pubmed(
        query: str = typer.Argument(..., help="PubMed query (PubMed syntax allowed)."),
        max_results: int | None = typer.Option(None, "--max", min=1, max=1000, help="How many records."),
        mindate: str | None = typer.Option(None, help="Earliest publication date (YYYY[/MM[/DD]])."),
        maxdate: str | None = typer.Option(None, help="Latest publication date (YYYY[/MM[/DD]])."),
        sort: PubMedSortOpt = typer.Option(PubMedSortOpt.relevance, help="relevance or pub_date (newest first)."),
        abstracts: bool = typer.Option(False, "--abstracts", help="Print the abstracts too."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Search PubMed and print the records (title, authors, journal, year, PMID, DOI)."""
        from mcp_servers.literature.pubmed import PubMedClient

        def run():
            with PubMedClient() as client:
                return client.search(query, max_results, mindate=mindate, maxdate=maxdate, sort=sort.value)

        result = _guard(run)
        if json_out:
            _print_json({"query": query, "total_hits": result.count, "query_translation": result.query_translation,
                         "articles": [a.as_dict() for a in result.articles]})
            return
        typer.echo(f"PubMed: {result.count} hits for {query!r}; showing {len(result.articles)}\n")
        for i, a in enumerate(result.articles, 1):
            _echo_article(i, a, abstract=abstracts)
        for w in result.warnings:
            typer.echo(f"note: {w}", err=True)

    @lit.command("europepmc")
    def europepmc(
        query: str = typer.Argument(..., help="Europe PMC query."),
        max_results: int | None = typer.Option(None, "--max", min=1, max=1000, help="How many records."),
        open_access: bool = typer.Option(False, "--open-access", help="Only open-access articles."),
        year_min: int | None = typer.Option(None, help="Earliest publication year."),
        year_max: int | None = typer.Option(None, help="Latest publication year."),
        sort: EuropePMCSortOpt = typer.Option(EuropePMCSortOpt.relevance, help="relevance, date or cited."),
        abstracts: bool = typer.Option(False, "--abstracts", help="Print the abstracts too."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Search Europe PMC (PubMed, PMC, preprints) and print records with open-access full-text links."""
        from mcp_servers.literature.europepmc import EuropePMCClient

        def run():
            with EuropePMCClient() as client:
                return client.search(query, max_results, open_access_only=open_access, year_min=year_min,
                                     year_max=year_max, sort=sort.value)

        result = _guard(run)
        if json_out:
            _print_json({"query": query, "total_hits": result.hit_count,
                         "articles": [a.as_dict() for a in result.articles]})
            return
        typer.echo(f"Europe PMC: {result.hit_count} hits for {query!r}; showing {len(result.articles)}\n")
        for i, a in enumerate(result.articles, 1):
            _echo_article(i, a, abstract=abstracts)

    @lit.command("fetch")
    def fetch(
        pmids: list[str] = typer.Argument(..., help="PubMed IDs."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Print full PubMed records (with abstracts) for PMIDs."""
        from mcp_servers.literature.pubmed import PubMedClient

        def run():
            ids = _split_pmids(pmids)
            with PubMedClient() as client:
                return ids, client.efetch(ids)

        ids, articles = _guard(run)
        missing = [p for p in ids if p not in {a.pmid for a in articles}]
        if json_out:
            _print_json({"articles": [a.as_dict() for a in articles], "not_found": missing})
        else:
            for i, a in enumerate(articles, 1):
                _echo_article(i, a, abstract=True)
            if missing:
                typer.echo(f"not found: {', '.join(missing)}", err=True)
        if missing and not articles:
            raise typer.Exit(1)


    app.add_typer(lit, name="lit")
