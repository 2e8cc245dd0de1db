"""`bioagent ask`, `bioagent report` and `bioagent demo`: the agent from the command line."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from agent.events import RunOverrides, RunResult, TraceEvent

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_LIBRARY = PROJECT_ROOT / "examples" / "library"

# PCV2 Rep (replicase, ORF1) of Porcine circovirus 2, NCBI RefSeq NP_937956.1 (from NC_005148.1).
PCV2_REP_ACCESSION = "NP_937956.1"
PCV2_REP = (
    "MPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQG"
    "FANFVKKQTFNKVKWYFGARCHIEKAKGTDQQNKEYCSKEGNLLMECGAPRSQGQRSDLS"
    "TAVSTLLESGSLVTVAEQHPVTFVRNFRGLAELLKVSGKMQKRDWKTNVHVIVGPPGCGK"
    "SKWAANFADPETTYWKPPRNKWWDGYHGEEVVVIDDFYGWLPWDDLLRLCDRYPLTVETK"
    "GGTVPFLARSILITSNQTPLEWYSSTAVPAVEALYRRITSLVFWKNATEQSTEEGGQFVT"
    "LSPPCPEFPYEINY"
)
DEMO_LITERATURE_QUESTION = "What do the conserved motifs of the CRESS-DNA virus Rep protein do in rolling-circle replication?"
DEMO_SEQUENCE_QUESTION = (
    "Is this protein a CRESS Rep, and what would the mutation Y96F do?\n"
    f">{PCV2_REP_ACCESSION} replicase (Rep) [Porcine circovirus 2]\n{PCV2_REP}"
)

EVIDENCE_MODE_NOTE = (
    "Evidence mode ({why}): answers are composed from the cited passages' sentences and the tool results, with no "
    "model calls, so no LLM server is started. For model-written answers {fix} (see docs/llm.md).")

console = Console()
err_console = Console(stderr=True)


def make_service(settings=None):
    """The AgentService the commands use (tests replace this)."""
    from agent.runner import AgentService

    return AgentService(settings)


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _known_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    try:
        from agent.llm import LLMUnavailable

        errors.append(LLMUnavailable)
    except ImportError:  # pragma: no cover - the llm area is part of the package
        pass
    from agent.checkpoint import CheckpointerUnavailable

    errors.append(CheckpointerUnavailable)
    return tuple(errors)


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def format_event(event: TraceEvent) -> Text | None:
    """One line (or a few) per trace event, for --trace."""
    d = event.data
    if event.type == "step":
        t = Text()
        t.append(f"▸ {event.node}", style="bold cyan")
        t.append(f"  {d.get('duration_ms', 0):.0f} ms", style="dim")
        tok = d.get("tokens") or {}
        if tok.get("prompt") or tok.get("completion"):
            t.append(f"  tokens {tok.get('prompt', 0)}+{tok.get('completion', 0)}", style="dim")
        details = []
        node = event.node
        if node == "route":
            details.append(f"route={d.get('route')} ({d.get('guard_reason')}; model: {d.get('llm')})")
            if d.get("sequences"):
                details.append(f"sequences={_short(d['sequences'])}")
            if d.get("mutations"):
                details.append(f"mutations={d['mutations']}")
        elif node == "rewrite":
            details.append(f"round {d.get('round')}: queries={_short(d.get('queries'), 240)} (model: {d.get('model')})")
        elif node == "retrieve":
            for q, hits in (d.get("hits") or {}).items():
                details.append(f"{_short(q, 80)!r}: " + "; ".join(
                    f"{_short(h.get('title') or h.get('chunk_id'), 40)} {h.get('score', 0):.3f}" for h in hits[:4]))
            for e in d.get("errors") or []:
                details.append(f"error: {e}")
        elif node == "grade":
            details.append(f"relevant={d.get('relevant')} sufficient={d.get('sufficient')} (model: {d.get('model')})")
            if d.get("missing"):
                details.append(f"missing: {d['missing']}")
        elif node == "plan_tools":
            if d.get("calls"):
                details.append("calls: " + ", ".join(f"{c['name']} [{c['origin']}]" for c in d["calls"]))
            if d.get("rejected"):
                details.append("rejected: " + ", ".join(f"{r['name']} ({r['reason']})" for r in d["rejected"]))
            details.append(f"model: {d.get('model')}")
        elif node == "run_tools":
            for r in d.get("results") or []:
                details.append(f"{r['id']} {r['name']}: {'ok' if r['ok'] else 'error: ' + str(r['error'])} "
                               f"({r['duration_ms']:.0f} ms)")
        elif node == "answer":
            details.append(f"passages={[p['ref'] for p in d.get('passages', [])]} tools={d.get('tools')} "
                           f"(model: {d.get('model')})")
        elif node == "verify":
            details.append(f"citations={d.get('citations')} invalid={d.get('invalid_citations')} "
                           f"fallback={d.get('fallback')} {d.get('fallback_reasons') or ''}")
        for line in details:
            t.append("\n    " + line, style="")
        return t
    if event.type == "tool_call":
        return Text(f"  → {d.get('id')} {d.get('name')}({_short(d.get('args'), 120)}) [{d.get('origin')}]", style="magenta")
    if event.type == "tool_result":
        status = "ok" if d.get("ok") else f"error: {d.get('error')}"
        return Text(f"  ← {d.get('id')} {d.get('name')}: {status} ({d.get('duration_ms', 0):.0f} ms)", style="magenta")
    if event.type == "error":
        return Text(f"  ! {d.get('message')}", style="yellow")
    return None


def print_sources(result: RunResult) -> None:
    if result.citations:
        console.print("\n[bold]Sources[/]")
        for c in result.citations:
            console.print(f"  [{c.ref}] {c.label}", highlight=False)
    if result.invalid_citations:
        console.print(f"[yellow]Removed citations that were never retrieved: {', '.join(result.invalid_citations)}[/]")
    console.print(f"[dim]route={result.route}  thread={result.thread_id}  {result.duration_ms / 1000:.1f} s  "
                  f"tokens={result.usage.get('total_tokens', 0)}  model={result.model}[/]", highlight=False)


async def stream_to_console(service, question: str, thread: str | None, trace: bool,
                            overrides: RunOverrides | None = None) -> RunResult:
    result: RunResult | None = None
    streamed = ""
    with Live(Text(""), console=console, refresh_per_second=12, transient=True) as live:
        async for event in service.stream(question, thread_id=thread, overrides=overrides):
            if event.type == "token":
                streamed += event.data.get("text", "")
                live.update(Text(streamed))
            elif event.type == "done":
                result = RunResult.model_validate(event.data)
            elif trace:
                line = format_event(event)
                if line is not None:
                    live.console.print(line, highlight=False)
    assert result is not None
    console.print(Markdown(result.answer) if result.answer else Text("(no answer)"))
    print_sources(result)
    return result


def _run_async(coro_factory) -> Any:
    known = _known_errors()

    async def main():
        service = None
        try:
            service = make_service()
            return await coro_factory(service)
        finally:
            if service is not None:
                await service.aclose()

    try:
        return asyncio.run(main())
    except typer.Exit:
        raise
    except known as exc:
        _fail(str(exc), 2)
    except ValueError as exc:
        _fail(str(exc), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - a readable line, never a traceback
        _fail(f"{type(exc).__name__}: {exc}", 1)


def register(app: typer.Typer) -> None:
    @app.command("ask")
    def ask(
        question: str = typer.Argument(..., help="Your question (English or Chinese); may include a sequence/FASTA."),
        thread: str | None = typer.Option(None, "--thread", help="Continue this conversation (thread id)."),
        trace: bool = typer.Option(False, "--trace", help="Show every step of the graph as it runs."),
        json_out: bool = typer.Option(False, "--json", help="Print the full RunResult as JSON."),
        max_rounds: int | None = typer.Option(None, "--max-rounds", help="Re-retrieval rounds (overrides settings)."),
        temperature: float | None = typer.Option(None, "--temperature", help="Sampling temperature."),
    ) -> None:
        """Ask the agent; the answer streams, with citations checked against what was retrieved."""
        if question == "-":
            question = sys.stdin.read()
        overrides = RunOverrides(max_rounds=max_rounds, temperature=temperature)

        async def go(service):
            if json_out:
                result = await service.run(question, thread_id=thread, overrides=overrides)
                typer.echo(result.model_dump_json(indent=2))
                return result
            return await stream_to_console(service, question, thread, trace, overrides)

        _run_async(go)

    @app.command("report")
    def report(
        fasta: str = typer.Argument(..., help="FASTA/GenBank file (or '-' for stdin): a protein, or a genome/contig "
                                              "(its Rep is analysed); the first record is used."),
        lang: str = typer.Option("en", "--lang", help="Report language: en or zh."),
        out: Path | None = typer.Option(None, "--out", help="Write the Markdown report here."),
        json_out: bool = typer.Option(False, "--json", help="Print {markdown, data} as JSON."),
    ) -> None:
        """Sequence report: genome annotation (for DNA), Rep annotation, properties, ESM-2 scan summary and literature,
        in English or Chinese."""
        if lang not in ("en", "zh"):
            _fail("--lang must be en or zh")
        if fasta == "-":
            text = sys.stdin.read()
        else:
            path = Path(fasta)
            if not path.is_file():
                _fail(f"{fasta}: no such file")
            text = path.read_text(encoding="utf-8", errors="replace")

        async def go(service):
            return await service.report(text, lang)  # type: ignore[arg-type]

        rep = _run_async(go)
        if out is not None:
            out.write_text(rep["markdown"], encoding="utf-8")
            data_path = out.with_suffix(".json")
            data_path.write_text(json.dumps(rep["data"], ensure_ascii=False, indent=1, default=str), encoding="utf-8")
            console.print(f"Report written to {out} (figure data: {data_path})", highlight=False)
        if json_out:
            typer.echo(json.dumps(rep, ensure_ascii=False, indent=1, default=str))
        elif out is None:
            console.print(Markdown(rep["markdown"]))

    @app.command("demo")
    def demo(
        library: Path = typer.Option(EXAMPLE_LIBRARY, "--library", help="Folder of documents to ingest first."),
        trace: bool = typer.Option(True, "--trace/--no-trace", help="Show every step."),
    ) -> None:
        """The main job on embedded defaults: ingest the sample library, ask a literature and a sequence question."""

        async def go(service):
            console.rule("[bold]bioagent demo")
            if service.uses_model():
                from agent.llm import ensure_endpoint

                console.print("Checking the LLM endpoint (starts the embedded llama.cpp server if none is set) ...")
                url = await asyncio.to_thread(ensure_endpoint, service.settings)
                console.print(f"LLM endpoint: {url}", highlight=False)
            else:
                set_explicitly = service.settings.agent.mode == "evidence"
                console.print(EVIDENCE_MODE_NOTE.format(
                    why="BIOAGENT_AGENT__MODE=evidence" if set_explicitly else "the bundled SmolLM2-135M",
                    fix="set BIOAGENT_AGENT__MODE=auto and an endpoint" if set_explicitly
                    else "point BIOAGENT_LLM__BASE_URL at a real model"), highlight=False)
            await ensure_library(service, library)
            console.rule("[bold]1. A literature question")
            console.print(f"[bold]Q:[/] {DEMO_LITERATURE_QUESTION}", highlight=False)
            await stream_to_console(service, DEMO_LITERATURE_QUESTION, None, trace)
            console.rule("[bold]2. A sequence question (PCV2 Rep, NP_937956.1)")
            console.print(f"[bold]Q:[/] {DEMO_SEQUENCE_QUESTION.splitlines()[0]} (+ FASTA of {PCV2_REP_ACCESSION}, "
                          f"{len(PCV2_REP)} aa)", highlight=False)
            await stream_to_console(service, DEMO_SEQUENCE_QUESTION, None, trace)

        _run_async(go)


async def ensure_library(service, library: Path) -> None:
    """Ingest the folder into the knowledge base (unchanged documents are skipped by the knowledge base)."""
    from agent.context import load_knowledge_base

    if not library.is_dir():
        _fail(f"{library}: the sample library folder does not exist")
    kb = await asyncio.to_thread(load_knowledge_base, service.settings)
    files = [p for p in library.rglob("*") if p.is_file() and not p.name.startswith(".")]
    console.print(f"Ingesting {len(files)} documents from {library} (unchanged ones are skipped) ...", highlight=False)
    report = await asyncio.to_thread(kb.ingest_paths, [library])
    await asyncio.to_thread(kb.search, "Rep protein rolling-circle replication", k=1)  # load the search models now
    console.print(f"Library: {len(report.added_docs)} added, {len(report.replaced_docs)} replaced, "
                  f"{len(report.unchanged_docs)} unchanged, {report.chunks_written} chunks written "
                  f"({report.seconds:.1f} s)", highlight=False)
    for w in report.errors:
        console.print(f"[yellow]{w}[/]")
