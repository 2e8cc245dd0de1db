"""`bioagent eval retrieval|answers|tools|sequence|compare|support`: score the system on a dataset, compare configurations."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

eval_app = typer.Typer(help="Evaluate retrieval, answers, tool use and sequence annotation on datasets; compare "
                            "configurations side by side (results under runs/<timestamp>-<name>/).",
                       no_args_is_help=True)

DATASET = typer.Option(..., "--dataset", "-d", help="JSONL dataset: PubMedQA, generic QA or sequence tasks.")
FORMAT = typer.Option("auto", "--format", help="auto, pubmedqa, qa or sequence.")
LIMIT = typer.Option(None, "--limit", "-n", min=1, help="Use N items (a seeded sample).")
SEED = typer.Option(0, "--seed", help="Seed of the item sample and of the model's sampling.")
CONFIG = typer.Option(None, "--config", "-c", help="Configuration name(s), repeat or comma-separate "
                      "(built-ins: agentic, naive-rag, closed-book, dense-only, sparse-only, rerank, no-rerank).")
CONFIG_FILE = typer.Option(None, "--configs-file", help="YAML/JSON file of named configurations.")
OUT = typer.Option(Path("runs"), "--out", help="Folder for run directories.")
NAME = typer.Option(None, "--name", help="Run name (default: <suite>-<dataset>).")
NO_PROGRESS = typer.Option(False, "--no-progress", help="No progress bar.")
JSON_OUT = typer.Option(False, "--json", help="Print the metrics as JSON instead of the table.")
NO_WRITE = typer.Option(False, "--no-write", help="Do not write a run directory.")


def _known_errors() -> tuple[type[BaseException], ...]:
    from agent.kb.errors import KBError
    from agent.llm import LLMUnavailable
    from evals.configs import ConfigError
    from evals.datasets import DatasetError
    from evals.harness import EvalError

    errors: list[type[BaseException]] = [DatasetError, ConfigError, EvalError, LLMUnavailable, KBError]
    try:
        from agent.checkpoint import CheckpointerUnavailable

        errors.append(CheckpointerUnavailable)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def _run(suite: str, dataset: Path, fmt: str, limit: int | None, seed: int, config: list[str] | None,
         configs_file: Path | None, out: Path, name: str | None, no_progress: bool, json_out: bool,
         no_write: bool, default_configs: list[str] | None = None, settings=None, published: bool = False,
         **options) -> None:
    from evals.configs import resolve_configs
    from evals.harness import EvalSpec, run_eval
    from evals.report import rich_table

    try:
        names = config or default_configs
        configs = resolve_configs(names, configs_file) if (names or configs_file) else []
        spec = EvalSpec(suite=suite, dataset=dataset, fmt=fmt, configs=configs, limit=limit, seed=seed, name=name,
                        out_dir=None if no_write else out, progress=not no_progress,
                        **{k: v for k, v in options.items() if v is not None})
        run = run_eval(spec, settings)
    except _known_errors() as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if json_out:
        typer.echo(json.dumps({"run": run.results["run"], "run_dir": str(run.run_dir) if run.run_dir else None,
                               "metrics": {n: e["metrics"] for n, e in run.results["configs"].items()}},
                              indent=2, default=str))
        return
    console.print(rich_table(run.results))
    if published:
        print_published(run.results)
    for n, e in run.results["configs"].items():
        for r, why in (e.get("skipped_routes") or {}).items():
            console.print(f"[yellow]{n}: route {r} skipped: {why}[/]")
    if run.run_dir:
        console.print(f"results: {run.run_dir}/results.json, report: {run.run_dir}/report.md")


@eval_app.command("retrieval")
def retrieval_cmd(
    dataset: Path = DATASET, fmt: str = FORMAT, limit: int = LIMIT, seed: int = SEED, config: list[str] = CONFIG,
    configs_file: Path = CONFIG_FILE, out: Path = OUT, name: str = NAME, no_progress: bool = NO_PROGRESS,
    json_out: bool = JSON_OUT, no_write: bool = NO_WRITE,
    corpus: Path = typer.Option(None, "--corpus", help="JSONL of documents to index (default: the dataset's own; "
                                "none: the configured collection)."),
    route: list[str] = typer.Option(None, "--route", help="Routes to score: bm25, dense, sparse, hybrid, rerank."),
    k: list[int] = typer.Option(None, "--k", help="Cut-offs for recall@k (default 1, 5, 10)."),
) -> None:
    """recall@k, MRR and nDCG@10 per search route, with rank_bm25 as the in-run baseline."""
    _run("retrieval", dataset, fmt, limit, seed, config, configs_file, out, name, no_progress, json_out, no_write,
         corpus=corpus, routes=route or None, ks=k or None)


def _agent_options(template: str | None, corpus: Path | None) -> dict:
    return {"template": template, "corpus": corpus}


TEMPLATE = typer.Option(None, "--template", help="Question template with {question} (PubMedQA default asks for "
                        "Yes/No/Maybe first).")
CORPUS = typer.Option(None, "--corpus", help="JSONL of documents to index instead of the dataset's own.")


PUBMEDQA_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubmedqa" / "pqal_test.jsonl"
PUBLISHED = (("BioBERT (PubMedQA paper, reasoning-required)", 0.681), ("single human (PubMedQA paper)", 0.780))


def print_published(results: dict) -> None:
    """Accuracy and macro-F1 of each configuration beside the published PubMedQA reference points."""
    for n, e in results["configs"].items():
        m = e["metrics"]
        acc, f1 = m.get("accuracy"), m.get("macro_f1")
        if acc is None:
            continue
        console.print(f"{n}: accuracy {acc:.1%}, macro-F1 {f1:.3f} on {m.get('items')} items", highlight=False)
    for who, acc in PUBLISHED:
        console.print(f"  {who}: accuracy {acc:.1%}", highlight=False)


@eval_app.command("answers")
def answers_cmd(
    dataset: Path = typer.Option(None, "--dataset", "-d", "--data", help="JSONL dataset (default: the PubMedQA "
                                 "test half, ../shared/data/pubmedqa/pqal_test.jsonl)."),
    fmt: str = FORMAT, limit: int = LIMIT, seed: int = SEED, config: list[str] = CONFIG,
    configs_file: Path = CONFIG_FILE, out: Path = OUT, name: str = NAME, no_progress: bool = NO_PROGRESS,
    json_out: bool = JSON_OUT, no_write: bool = NO_WRITE, template: str = TEMPLATE, corpus: Path = CORPUS,
    groundedness: str = typer.Option("lexical", "--groundedness", help="lexical or llm (judge = the endpoint)."),
    min_overlap: float = typer.Option(0.5, "--min-overlap", min=0.0, max=1.0,
                                      help="Lexical support: share of a sentence's content words in the cited text."),
    endpoint: str = typer.Option(None, "--endpoint", help="OpenAI-compatible base URL to evaluate (e.g. SGLang "
                                 "http://host:30000/v1); default: the configured endpoint."),
    model: str = typer.Option(None, "--model", help="Model name sent to the endpoint."),
    mode: str = typer.Option(None, "--mode", help="Agent mode: guarded or agentic (default: the setting; auto "
                             "probes the endpoint; evidence writes no answer, so labels would be meaningless)."),
) -> None:
    """Run the agent: yes/no/maybe accuracy and macro-F1 (beside BioBERT and a single human on PubMedQA),
    citation validity, groundedness, latency, tokens."""
    from agent.settings import get_settings
    from evals.configs import apply_settings

    if dataset is None:
        if not PUBMEDQA_TEST.is_file():
            err_console.print(f"[bold red]error:[/] no --data given and the PubMedQA test half is not at "
                              f"{PUBMEDQA_TEST}", highlight=False)
            raise typer.Exit(2)
        dataset = PUBMEDQA_TEST
    if mode is not None and mode not in ("auto", "evidence", "guarded", "agentic"):
        err_console.print(f"[bold red]error:[/] --mode must be auto, evidence, guarded or agentic, not {mode!r}")
        raise typer.Exit(2)
    llm = {k: v for k, v in (("base_url", endpoint), ("model", model)) if v}
    changes = {**({"llm": llm} if llm else {}), **({"agent": {"mode": mode}} if mode else {})}
    settings = apply_settings(get_settings(), changes) if changes else None
    _run("answers", dataset, fmt, limit, seed, config, configs_file, out, name, no_progress, json_out, no_write,
         settings=settings, published=True, groundedness=groundedness, min_overlap=min_overlap,
         **_agent_options(template, corpus))


@eval_app.command("tools")
def tools_cmd(
    dataset: Path = DATASET, fmt: str = FORMAT, limit: int = LIMIT, seed: int = SEED, config: list[str] = CONFIG,
    configs_file: Path = CONFIG_FILE, out: Path = OUT, name: str = NAME, no_progress: bool = NO_PROGRESS,
    json_out: bool = JSON_OUT, no_write: bool = NO_WRITE, template: str = TEMPLATE, corpus: Path = CORPUS,
) -> None:
    """Run the agent: was the expected tool called with valid arguments (QA gold_tool, or annotate_rep for
    sequence tasks)?"""
    _run("tools", dataset, fmt, limit, seed, config, configs_file, out, name, no_progress, json_out, no_write,
         **_agent_options(template, corpus))


@eval_app.command("sequence")
def sequence_cmd(
    dataset: Path = DATASET, fmt: str = FORMAT, limit: int = LIMIT, seed: int = SEED, config: list[str] = CONFIG,
    configs_file: Path = CONFIG_FILE, out: Path = OUT, name: str = NAME, no_progress: bool = NO_PROGRESS,
    json_out: bool = JSON_OUT, no_write: bool = NO_WRITE,
    tolerance: int = typer.Option(2, "--tolerance", min=0, help="Residues a motif start may differ by."),
) -> None:
    """Rep call accuracy and motif-position agreement of annotate_rep against expected values."""
    _run("sequence", dataset, fmt, limit, seed, config, configs_file, out, name, no_progress, json_out, no_write,
         tolerance=tolerance)


@eval_app.command("compare")
def compare_cmd(
    dataset: Path = DATASET, fmt: str = FORMAT, limit: int = LIMIT, seed: int = SEED, config: list[str] = CONFIG,
    configs_file: Path = CONFIG_FILE, out: Path = OUT, name: str = NAME, no_progress: bool = NO_PROGRESS,
    json_out: bool = JSON_OUT, no_write: bool = NO_WRITE, template: str = TEMPLATE, corpus: Path = CORPUS,
    suite: str = typer.Option("answers", "--suite", help="retrieval, answers, tools or sequence."),
    groundedness: str = typer.Option("lexical", "--groundedness", help="lexical or llm (answers suite)."),
    route: list[str] = typer.Option(None, "--route", help="Retrieval suite: routes to score."),
    k: list[int] = typer.Option(None, "--k", help="Retrieval suite: cut-offs for recall@k."),
) -> None:
    """Several configurations on the same items in one run (default: naive-rag vs agentic), side by side."""
    options: dict = {"corpus": corpus}
    if suite == "retrieval":
        options.update(routes=route or None, ks=k or None)
    if suite in ("answers", "tools"):
        options["template"] = template
    if suite == "answers":
        options["groundedness"] = groundedness
    _run(suite, dataset, fmt, limit, seed, config, configs_file, out, name or f"compare-{suite}-{dataset.stem}",
         no_progress, json_out, no_write, default_configs=None if configs_file else ["naive-rag", "agentic"],
         **options)


@eval_app.command("support")
def support_cmd(
    pairs: Path = typer.Option(..., "--pairs", "-p", help='JSONL of {"claim", "passage", "label"} (1 supported, 0 not); '
                               "optional \"kind\" gives a per-kind AUROC."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (default: a one-line summary)."),
    scores: bool = typer.Option(False, "--scores", help="Also print each pair's score, verdict and reasons."),
) -> None:
    """AUROC of the claim support scorer (the verify step's core) on labelled claim/passage pairs."""
    from agent.claims.scorer import load_model
    from evals.datasets import DatasetError
    from evals.support import evaluate_pairs, load_pairs

    try:
        load_model()
        result = evaluate_pairs(load_pairs(pairs))
    except (DatasetError, RuntimeError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if not scores:
        result.pop("scores")
    if json_out:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    per_pair = result.pop("scores", None)
    typer.echo(json.dumps(result, ensure_ascii=False))
    for s in per_pair or []:
        typer.echo(json.dumps(s, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
