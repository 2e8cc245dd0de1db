"""`bioagent eval retrieval|answers|tools|sequence|compare|support`: score the system on a dataset, compare configurations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

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
    if suite == "retrieval" and len(run.results["configs"]) > 1:
        run.results["comparisons"] = _retrieval_cis(run.results)
    if json_out:
        typer.echo(json.dumps({"run": run.results["run"], "run_dir": str(run.run_dir) if run.run_dir else None,
                               "metrics": {n: e["metrics"] for n, e in run.results["configs"].items()},
                               "comparisons": run.results.get("comparisons")},
                              indent=2, default=str))
        return
    console.print(rich_table(run.results))
    if published:
        print_published(run.results)
    for n, e in run.results["configs"].items():
        for r, why in (e.get("skipped_routes") or {}).items():
            console.print(f"[yellow]{n}: route {r} skipped: {why}[/]")
    if run.results.get("comparisons"):
        from evals.retrieval_ci import PairedCI, ci_table

        console.print("Paired bootstrap, each configuration vs the first (per-question differences, 95% CI):")
        console.print(ci_table([PairedCI(**{k: v for k, v in c.items() if k != "significant"})
                                for c in run.results["comparisons"]]), markup=False)
    if run.run_dir:
        console.print(f"results: {run.run_dir}/results.json, report: {run.run_dir}/report.md")


def _retrieval_cis(results: dict) -> list[dict]:
    """Paired bootstrap CIs of each configuration against the first, per route, from the per-question metrics."""
    from evals.retrieval_ci import compare_items

    out: list[dict] = []
    configs = results["configs"]
    routes = sorted({r for e in configs.values() for it in e.get("items", []) for r in it.get("routes", {})})
    for route in routes:
        per_item = {name: {it["id"]: it["routes"][route] for it in e.get("items", []) if route in it.get("routes", {})}
                    for name, e in configs.items()}
        metrics = sorted({m for rows in per_item.values() for row in rows.values() for m, v in row.items()
                          if isinstance(v, (int, float))})
        for c in compare_items(per_item, next(iter(configs)), metrics):
            c.metric = f"{route} {c.metric}"
            out.append(c.as_dict())
    return out


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
    suite: str = typer.Option("answers", "--suite", help="retrieval, passages, answers, tools or sequence."),
    groundedness: str = typer.Option("lexical", "--groundedness", help="lexical or llm (answers suite)."),
    route: list[str] = typer.Option(None, "--route", help="Retrieval suite: routes to score; passages suite: the "
                                    "search mode (hybrid, dense or sparse)."),
    k: list[int] = typer.Option(None, "--k", help="Retrieval suite: cut-offs for recall@k."),
    lang: list[str] = typer.Option(None, "--lang", help="Passages suite: only questions in these languages."),
    bootstrap: int = typer.Option(10_000, "--bootstrap", min=100, help="Bootstrap resamples for the paired CIs."),
) -> None:
    """Several configurations on the same items in one run (default: naive-rag vs agentic), side by side, with
    paired bootstrap CIs of each configuration against the first (retrieval and passages suites).

    `--suite passages`: the dataset is a qrels file (passage-level labels: document id + a substring of the
    answering passage) and `--corpus` the files or folder to index (default: examples/library)."""
    if suite == "passages":
        _compare_passages(dataset, corpus, config, configs_file, out, name, no_progress, json_out, no_write,
                          (route or [None])[0], lang, bootstrap, seed)
        return
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


@eval_app.command("pdf")
def pdf_cmd(
    papers: Optional[Path] = typer.Option(None, "--papers", help="Folder with the PDFs, papers.json, questions.jsonl."),
    extractor: str = typer.Option("both", "--extractor", help="layout, pypdf or both (side by side)."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """PDF ingest: answer chunk in the search top 5, title/DOI per paper, split hyphens/furniture, ingest time."""
    from evals.pdf_eval import main

    args = ["--extractor", extractor] + (["--papers", str(papers)] if papers else []) + (["--json"] if json_out else [])
    raise typer.Exit(main(args))


def _judge_model(endpoint: str, model: str | None):
    """The chat model at `endpoint` (checked to answer), at temperature 0, for the claim judge (a verdict and a
    one-sentence reason fit in 128 tokens)."""
    from agent.llm import chat_model
    from agent.settings import get_settings
    from evals.configs import apply_settings

    llm = {"base_url": endpoint, **({"model": model} if model else {})}
    return chat_model(apply_settings(get_settings(), {"llm": llm})).model_copy(update={"temperature": 0.0,
                                                                                       "max_tokens": 128})


@eval_app.command("support")
def support_cmd(
    pairs: Path = typer.Option(..., "--pairs", "-p", help='JSONL of {"claim", "passage", "label"} (1 supported, 0 not); '
                               "optional \"kind\" gives a per-kind AUROC."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (default: a one-line summary)."),
    scores: bool = typer.Option(False, "--scores", help="Also print each pair's score, verdict and reasons."),
    no_cross_encoder: bool = typer.Option(False, "--no-cross-encoder", help="Score with the feature trees alone, "
                                          "even when a cross-encoder was built (see `evals.support_fit`)."),
    judge_endpoint: str = typer.Option(None, "--judge-endpoint", help="OpenAI-compatible base URL of a chat model "
                                       "(e.g. SGLang http://host:30000/v1): also score every pair with the LLM "
                                       "judge, alone and as verify applies it (a veto)."),
    judge_model: str = typer.Option(None, "--judge-model", help="Model name sent to the judge endpoint."),
    limit: int = typer.Option(None, "--limit", min=2, help="Score a seeded random sample of this many pairs."),
    seed: int = SEED,
) -> None:
    """AUROC of the claim support scorer (the verify step's core) on labelled claim/passage pairs."""
    from agent.claims.scorer import load_model
    from agent.llm import LLMUnavailable
    from evals.datasets import DatasetError
    from evals.support import evaluate_pairs, load_pairs, sample_pairs

    try:
        load_model()
        scorer = None
        if no_cross_encoder:
            from agent.claims import SupportScorer

            scorer = SupportScorer(cross_encoder=None)
        items = load_pairs(pairs)
        items = sample_pairs(items, limit, seed) if limit else items
        result = evaluate_pairs(items, scorer, _judge_model(judge_endpoint, judge_model) if judge_endpoint else None)
    except (DatasetError, RuntimeError, ValueError, LLMUnavailable) as exc:
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

def _compare_passages(dataset: Path, corpus: Path | None, config: list[str] | None, configs_file: Path | None,
                      out: Path, name: str | None, no_progress: bool, json_out: bool, no_write: bool,
                      mode: str | None, lang: list[str] | None, n_boot: int, seed: int) -> None:
    import datetime as dt

    from agent.settings import get_settings
    from evals.configs import EvalConfig, resolve_configs
    from evals.retrieval_ci import PairedCI, ci_table
    from evals.retrieval_passages import METRICS, load_qrels, run_passages

    try:
        if mode is not None and mode not in ("hybrid", "dense", "sparse"):
            raise ValueError(f"--route must be hybrid, dense or sparse for the passages suite, not {mode!r}")
        configs = resolve_configs(config, configs_file) if (config or configs_file) else [EvalConfig("default")]
        qrels = load_qrels(dataset)
        res = run_passages(qrels, [corpus or Path("examples/library")], configs, get_settings(), mode=mode,
                           langs=lang or None, n_boot=n_boot, seed=seed, progress=not no_progress)
    except (*_known_errors(), ValueError, RuntimeError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if not no_write:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        run_dir = out / f"{stamp}-{name or 'compare-passages-' + dataset.stem}"
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "results.json").write_text(json.dumps(res, indent=2, default=str))
        res["run_dir"] = str(run_dir)
    if json_out:
        typer.echo(json.dumps({k: v for k, v in res.items() if k != "configs"}
                              | {"metrics": {n: e["metrics"] for n, e in res["configs"].items()}}, indent=2, default=str))
        return
    rows = ["| configuration | " + " | ".join(METRICS) + " | index s | query ms |", "|---" * (len(METRICS) + 3) + "|"]
    for n, e in res["configs"].items():
        rows.append(f"| {n} | " + " | ".join(f"{e['metrics'][m]:.3f}" for m in METRICS)
                    + f" | {e['index_seconds']} | {e['query_ms']} |")
    console.print(f"{res['questions']} questions, passage-level labels", markup=False)
    console.print("\n".join(rows), markup=False)
    if res["comparisons"]:
        console.print(ci_table([PairedCI(**{k: v for k, v in c.items() if k != "significant"})
                                for c in res["comparisons"]]), markup=False)
    if res.get("run_dir"):
        console.print(f"results: {res['run_dir']}/results.json", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
