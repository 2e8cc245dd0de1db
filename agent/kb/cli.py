"""`bioagent ingest`, `bioagent search`, `bioagent kb stats|list|remove`: readable for people, --json for scripts."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

kb_app = typer.Typer(help="Inspect and manage the knowledge base.", no_args_is_help=True)


def _kb():
    from agent.kb.service import get_knowledge_base

    return get_knowledge_base()


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # a pipe or a test runner gets a wide, unwrapped page instead of rich's 80-column default
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=None if stream.isatty() else 200)


@contextmanager
def _errors(json_out: bool = False):
    """Known failures become one clear line on stderr and exit code 1 (2 for bad usage), never a traceback."""
    from agent.kb.errors import KBError

    try:
        yield
    except (KBError, ValueError, RuntimeError, OSError) as exc:
        msg = str(exc) if not isinstance(exc, KeyError) else exc.__str__()
        if json_out:
            typer.echo(json.dumps({"error": msg}), err=True)
        else:
            _console(stderr=True).print(f"[bold red]error:[/] {msg}", markup=True)
        raise typer.Exit(2 if isinstance(exc, ValueError) and not isinstance(exc, KBError) else 1) from None
    except KeyboardInterrupt:
        _console(stderr=True).print("interrupted: documents written so far are complete; re-run to continue")
        raise typer.Exit(130) from None


def _print_report(c, report, verb: str = "written") -> None:
    c.print(
        f"[bold]{len(report.added_docs)}[/] added, [bold]{len(report.replaced_docs)}[/] replaced, "
        f"[bold]{len(report.unchanged_docs)}[/] unchanged; {report.chunks_written} chunks {verb} "
        f"in {report.seconds:.1f} s"
        + (f" (multilingual vectors for {report.multilingual_chunks} chunks: {report.multilingual_seconds:.1f} s)"
           if report.multilingual_chunks else "")
    )
    for w in report.warnings:
        c.print(f"[yellow]warning:[/] {w}")
    for e in report.errors:
        c.print(f"[red]error:[/] {e}")


def ingest_cmd(
    paths: Optional[list[Path]] = typer.Argument(None, help="Files or folders: PDF, Markdown (.md), text (.txt), JSONL."),
    reindex: bool = typer.Option(False, "--reindex", help="First rebuild what the index settings made stale "
                                 "(documents built with other chunking/embedding/BM25 settings; the whole "
                                 "collection when the embedding model changed)."),
    json_out: bool = typer.Option(False, "--json", help="Print the ingest report as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Add files and folders to the knowledge base (unchanged files built with the current settings are skipped)."""
    with _errors(json_out):
        if not paths and not reindex:
            raise ValueError("give files or folders to ingest (or --reindex)")
        kb = _kb()
        progress = not (quiet or json_out) and sys.stderr.isatty()
        reports = []
        if reindex:
            reports.append(("reindex", kb.reindex(progress=progress)))
        if paths:
            reports.append(("ingest", kb.ingest_paths(paths, progress=progress)))
        if json_out:
            out = {name: rep.model_dump() for name, rep in reports}
            typer.echo(json.dumps(out if reindex else out["ingest"], indent=2))
        else:
            c = _console()
            for name, rep in reports:
                if name == "reindex":
                    c.print(f"reindex: {len(rep.reindexed_docs)} stale documents rebuilt")
                    if rep.not_rebuilt:
                        c.print(f"[yellow]warning:[/] {len(rep.not_rebuilt)} stale documents have no source left "
                                f"(re-ingest them): {', '.join(rep.not_rebuilt[:10])}")
                _print_report(c, rep)
            last = reports[-1][1]
            if last.multilingual_pending:
                c.print(f"{last.multilingual_pending} passages wait for their multilingual vector (cross-lingual "
                        "search): `bioagent kb multilingual` fills them")
            st = kb.stats()
            c.print(f"knowledge base: {st['documents']} documents, {st['chunks']} chunks ({st['backend']}, {st['location']})")
        if any(rep.errors for _n, rep in reports):
            raise typer.Exit(1)


def multilingual_cmd(
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Give every passage its multilingual vector (for Chinese and other non-English questions); resumable."""
    with _errors(json_out):
        kb = _kb()
        if not kb._multilingual_on():
            raise ValueError("the multilingual route is off for this collection (BIOAGENT_EMBEDDING__MULTILINGUAL)")
        rep = kb.backfill_multilingual(progress=not (quiet or json_out) and sys.stderr.isatty())
        left = kb.multilingual_pending()
        if json_out:
            typer.echo(json.dumps({"chunks": rep.multilingual_chunks, "seconds": rep.multilingual_seconds,
                                   "pending": left}))
        else:
            _console().print(f"multilingual vectors for {rep.multilingual_chunks} passages in "
                             f"{rep.multilingual_seconds:.1f} s; {left} still missing")


def search_cmd(
    query: str = typer.Argument(..., help="What to look for (any language; Chinese works against English papers)."),
    k: Optional[int] = typer.Option(None, "--k", "-k", min=1, max=200, help="Passages to return (default: settings)."),
    mode: Optional[str] = typer.Option(None, "--mode", help="hybrid (default), dense or sparse."),
    source: Optional[list[str]] = typer.Option(None, "--source", help="Only these sources (repeatable)."),
    doc: Optional[list[str]] = typer.Option(None, "--doc", help="Only these document ids (repeatable)."),
    year_min: Optional[int] = typer.Option(None, "--year-min", help="Published in or after this year."),
    year_max: Optional[int] = typer.Option(None, "--year-max", help="Published in or before this year."),
    rerank: Optional[bool] = typer.Option(None, "--rerank/--no-rerank", help="Cross-encoder rerank (needs a model)."),
    references: bool = typer.Option(False, "--references", help="Also search reference-list entries."),
    cites: bool = typer.Option(False, "--cites", help="Show the reference entries each passage cites ([12], (Smith, 2019))."),
    json_out: bool = typer.Option(False, "--json", help="Print hits as JSON."),
) -> None:
    """Search the knowledge base (dense + BM25, fused by DBSF for English and RRF for Chinese; filters; optional
    rerank)."""
    from agent.kb.models import SearchFilters

    with _errors(json_out):
        if mode is not None and mode not in ("hybrid", "dense", "sparse"):
            raise ValueError(f"--mode must be hybrid, dense or sparse, not {mode!r}")
        filters = SearchFilters(source=source or None, doc_id=doc or None, year_min=year_min, year_max=year_max,
                                include_references=references)
        kb = _kb()
        hits = kb.search(query, k=k, filters=filters, mode=mode, rerank=rerank)  # type: ignore[arg-type]
        cited: dict[str, list[dict]] = {}
        if cites:
            from agent.kb.pdf.references import cited_references

            cited = {h.chunk_id: cited_references(kb, h) for h in hits}
        if json_out:
            rows = [h.model_dump() | ({"cites": cited[h.chunk_id]} if cites else {}) for h in hits]
            typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        c = _console()
        if not hits:
            st = kb.stats()
            hint = " (the knowledge base is empty: `bioagent ingest PATH`)" if not st["chunks"] else ""
            c.print(f"no passages found{hint}")
            return
        from rich.markup import escape

        for i, h in enumerate(hits, 1):
            stages = "  ".join(f"{n}={v:.3f}" for n, v in h.scores.items())
            c.print(f"[bold cyan]{i}.[/] [bold]{escape(h.citation())}[/]  [dim]{escape(h.doc_id)} · {stages}[/]")
            text = " ".join(h.text.split())
            c.print("   " + escape(text[:400] + ("…" if len(text) > 400 else "")))
            for ref in cited.get(h.chunk_id, []):
                c.print(f"   [dim]cites {escape(ref['marker'])}: {escape(ref['reference'][:160])}[/]")
            c.print(f"   [dim]chunk {h.chunk_id}[/]")


def stats_cmd(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Documents, chunks, backend, collection, models, data dir."""
    with _errors(json_out):
        st = _kb().stats()
        if json_out:
            typer.echo(json.dumps(st, indent=2))
            return
        from rich.table import Table

        t = Table(show_header=False, box=None)
        for key, val in st.items():
            t.add_row(f"[bold]{key}[/]", str(val))
        _console().print(t)


def list_cmd(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Every document with its title, source, year and number of chunks."""
    with _errors(json_out):
        docs = _kb().list_documents()
        if json_out:
            typer.echo(json.dumps([d.model_dump() for d in docs], indent=2, ensure_ascii=False))
            return
        if not docs:
            _console().print("the knowledge base is empty: `bioagent ingest PATH`")
            return
        from rich.table import Table

        t = Table("doc id", "title", "source", "year", "chunks", "DOI / PMID")
        t.columns[0].no_wrap = True
        for d in docs:
            ref = f"doi:{d.doi}" if d.doi else (f"PMID:{d.pmid}" if d.pmid else "")
            t.add_row(d.doc_id, (d.title or "")[:70], d.source or "", str(d.year or ""), str(d.chunks), ref)
        _console().print(t)


def remove_cmd(
    doc_id: str = typer.Argument(..., help="Document id (see `bioagent kb list`)."),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Delete a document and its chunks."""
    with _errors(json_out):
        kb = _kb()
        n = kb.remove(doc_id)
        if json_out:
            typer.echo(json.dumps({"doc_id": doc_id, "chunks_removed": n}))
        else:
            _console().print(f"removed {doc_id!r} ({n} chunks)")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
    app.command("search")(search_cmd)
    kb_app.command("stats")(stats_cmd)
    kb_app.command("list")(list_cmd)
    kb_app.command("remove")(remove_cmd)
    kb_app.command("multilingual")(multilingual_cmd)
    app.add_typer(kb_app, name="kb")
