"""Run one eval suite over a dataset under one or more named configurations and record everything.

```python
from evals.harness import EvalSpec, run_eval
run = run_eval(EvalSpec(suite="retrieval", dataset="pqal_dev.jsonl", limit=100, seed=0))
run.results["configs"]["default"]["metrics"]        # also written to run.run_dir/results.json + report.md
```

Every run records the dataset (path, sha256, items used), the seed and limit, each configuration with the
effective settings (secrets masked) and the models it used, the git commit of the code, and per-item rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import platform
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.settings import Settings, get_settings
from evals import answers as answers_mod
from evals import tools as tools_mod
from evals.agent_runs import agent_items, run_config
from evals.configs import EvalConfig, apply_settings, settings_snapshot
from evals.datasets import Dataset, QAItem, load_corpus, load_dataset
from evals.perf import aggregate_perf, run_perf
from evals.retrieval import ALL_ROUTES, DEFAULT_KS, index_settings, open_index, run_retrieval
from evals.sequence import run_sequence

SUITES = ("retrieval", "answers", "tools", "sequence")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = EvalConfig("default", "the settings as configured")
SEQUENCE_TOOL_QUESTION = "Is this protein a CRESS-DNA virus Rep? Annotate its Rep motifs."


class EvalError(ValueError):
    """An eval that cannot run as asked (wrong suite for the dataset, nothing to score)."""


@dataclass
class EvalSpec:
    suite: str
    dataset: str | Path
    fmt: str = "auto"
    configs: list[EvalConfig] = field(default_factory=list)
    limit: int | None = None
    seed: int = 0
    name: str | None = None
    out_dir: str | Path | None = "runs"
    corpus: str | Path | None = None
    routes: Sequence[str] = ALL_ROUTES
    ks: Sequence[int] = DEFAULT_KS
    groundedness: str = "lexical"
    min_overlap: float = 0.5
    template: str | None = None
    tolerance: int = 2
    progress: bool = True


@dataclass
class EvalRun:
    results: dict[str, Any]
    run_dir: Path | None


def git_info(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The commit the code is at and whether the working tree has changes (None outside a git checkout)."""
    def git(*args: str) -> str | None:
        try:
            p = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return p.stdout.strip() if p.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "eval"


def _sequence_as_tool_items(items) -> list[QAItem]:
    return [QAItem(id=t.id, question=f"{t.question or SEQUENCE_TOOL_QUESTION}\n{t.sequence.strip()}",
                   gold_tool="annotate_rep", language=t.language, line=t.line) for t in items]


def _check_suite(spec: EvalSpec, ds: Dataset) -> None:
    if spec.suite not in SUITES:
        raise EvalError(f"unknown suite {spec.suite!r} ({', '.join(SUITES)})")
    if spec.suite == "sequence" and ds.format != "sequence":
        raise EvalError(f"{ds.path}: the sequence suite needs a sequence-task dataset (this one is {ds.format})")
    if spec.suite in ("retrieval", "answers") and ds.format == "sequence":
        raise EvalError(f"{ds.path}: the {spec.suite} suite needs a QA dataset (PubMedQA or generic QA)")
    if spec.suite == "retrieval" and not any(it.gold_doc_ids for it in ds.items):
        raise EvalError(f"{ds.path}: no item has gold_doc_ids, so retrieval cannot be scored")
    if spec.suite == "tools" and ds.format != "sequence" and not any(it.gold_tool for it in ds.items):
        raise EvalError(f"{ds.path}: no item has gold_tool, so tool use cannot be scored")


class _Bar:
    def __init__(self, enabled: bool, total: int, desc: str):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="item", leave=False)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _judge(spec: EvalSpec, settings: Settings, judge_model):
    if spec.groundedness == "lexical":
        return None
    if spec.groundedness != "llm":
        raise EvalError(f"unknown groundedness mode {spec.groundedness!r} (lexical or llm)")
    from evals.grounding import llm_judge

    if judge_model is None:
        from agent.llm import chat_model

        judge_model = chat_model(settings).model_copy(update={"temperature": 0.0, "max_tokens": 4})
    return llm_judge(judge_model)


def _kb_for(ds: Dataset, documents, settings: Settings, progress: bool):
    """The eval's own collection with the dataset documents, or the configured one when there are none."""
    if documents:
        langs = sorted({getattr(it, "language", "en") for it in ds.items})
        s = index_settings(settings, ds.name, documents, langs)
        return open_index(s, documents, progress=progress), s
    from agent.kb import get_knowledge_base

    return get_knowledge_base(settings), settings


def _run_agent_suite(spec: EvalSpec, ds: Dataset, items, settings: Settings, config: EvalConfig, kb, run_id: str,
                     chat_model, tools, judge_model) -> dict[str, Any]:
    judge = _judge(spec, settings, judge_model) if spec.suite == "answers" else None
    fmt = "qa" if ds.format == "sequence" else ds.format
    inputs = agent_items(items, fmt, spec.template)
    bar = _Bar(spec.progress, len(inputs), f"{spec.suite}:{config.name}")
    try:
        outs = asyncio.run(run_config(inputs, settings, config, knowledge_base=kb, chat_model=chat_model,
                                      tools=tools, seed=spec.seed, run_id=run_id, progress=bar))
    finally:
        bar.close()
    rows, perf_rows, tool_rows = [], [], []
    models = set()
    for ai, result, error in outs:
        row: dict[str, Any] = {"id": ai.item.id}
        if error is not None or result is None:
            row["error"] = error
            rows.append(row)
            continue
        models.add(result.model)
        if spec.suite == "answers":
            row.update(answers_mod.score_answer(ai.item, result, judge, spec.min_overlap))
        t = tools_mod.score_tools(ai.item, result)
        if t is not None:
            row["tools"] = t
            tool_rows.append(t)
        perf = run_perf(result)
        perf_rows.append(perf)
        row.update(perf=perf, route=result.route, answer=result.answer[:2000],
                   cited=[c.ref for c in result.citations if c.valid], timed_out=timed_out(result),
                   trace_errors=[str(ev.data.get("message", ""))[:300] for ev in result.trace if ev.type == "error"])
        rows.append(row)
    metrics: dict[str, Any] = {}
    if spec.suite == "answers":
        metrics.update(answers_mod.aggregate_answers(rows))
    else:
        metrics.update(items=len(rows), errors=sum(1 for r in rows if r.get("error")))
    if tool_rows:
        metrics.update(tools_mod.aggregate_tools(tool_rows))
    metrics["timeouts"] = sum(1 for r in rows if r.get("timed_out"))
    metrics["perf"] = aggregate_perf(perf_rows)
    return {"metrics": metrics, "items": rows, "models": {"chat": sorted(m for m in models if m)}}


def timed_out(result) -> bool:
    """Whether the run hit the agent's time limit (it then answers with what it had gathered)."""
    return any(ev.type == "error" and "time limit" in str(ev.data.get("message", "")) for ev in result.trace)


def _endpoint(settings: Settings, chat_model) -> str | None:
    if chat_model is not None:
        return "injected"
    return settings.llm.base_url or f"embedded llama.cpp ({settings.llm.gguf_path or 'bundled SmolLM2-135M'})"


def run_eval(spec: EvalSpec, settings: Settings | None = None, *, chat_model=None, tools=None,
             judge_model=None) -> EvalRun:
    """Run the suite under each configuration; write results.json + report.md when ``spec.out_dir`` is set."""
    base = settings or get_settings()
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    ds_all = load_dataset(spec.dataset, spec.fmt)
    _check_suite(spec, ds_all)
    ds = ds_all.sample(spec.limit, spec.seed)
    documents = load_corpus(spec.corpus) if spec.corpus else ds_all.documents
    configs = spec.configs or [DEFAULT_CONFIG]
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise EvalError(f"configuration names must be unique (got {', '.join(names)})")
    run_name = spec.name or f"{spec.suite}-{ds.name}"
    run_id = f"{started.strftime('%Y%m%d-%H%M%S')}-{_slug(run_name)}"
    results: dict[str, Any] = {
        "run": {"id": run_id, "name": run_name, "suite": spec.suite, "started": started.isoformat(),
                "seed": spec.seed, "limit": spec.limit, "dataset": ds.describe() | {"items_total": len(ds_all)},
                "corpus": str(spec.corpus) if spec.corpus else None, "git": git_info(),
                "python": platform.python_version(),
                "options": {"routes": list(spec.routes), "ks": list(spec.ks), "groundedness": spec.groundedness,
                            "min_overlap": spec.min_overlap, "template": spec.template, "tolerance": spec.tolerance,
                            "format": ds.format}},
        "configs": {},
    }
    items = ds.items
    if spec.suite == "tools":  # only the items that name an expected tool are run
        items = _sequence_as_tool_items(items) if ds.format == "sequence" else [it for it in items if it.gold_tool]
        if not items:
            raise EvalError(f"{ds.path}: none of the sampled items names an expected tool (gold_tool)")
    for config in configs:
        cs = apply_settings(base, config.settings, where=f"configuration {config.name}")
        if spec.suite in ("answers", "tools") and not config.settings.get("agent", {}).get("checkpoint_url"):
            cs = apply_settings(cs, {"agent": {"checkpoint_url": "memory:"}})  # eval threads are not kept
        c0 = time.perf_counter()
        entry: dict[str, Any] = {"config": config.as_dict()}
        if spec.suite == "sequence":
            bar = _Bar(spec.progress, len(items), f"sequence:{config.name}")
            try:
                out = run_sequence(items, cs, spec.tolerance, progress=bar)
            finally:
                bar.close()
            entry["models"] = {"annotate_rep": "motif profiles (mcp_servers.sequence.rep_motifs)"}
        else:
            if spec.suite != "retrieval" and chat_model is None:
                from agent.llm import ensure_endpoint

                ensure_endpoint(cs)  # no endpoint: stop with its message before indexing anything
            kb, ks = _kb_for(ds, documents, cs, spec.progress)
            entry["index"] = {"collection": ks.qdrant.collection, "store": ks.qdrant.url or "embedded",
                              "documents": len(documents)}
            if spec.suite == "retrieval":
                bar = _Bar(spec.progress, len(items), f"retrieval:{config.name}")
                try:
                    out = run_retrieval(items, kb, documents, ks, spec.routes, spec.ks, progress=bar)
                finally:
                    bar.close()
                out["models"] = {"embedding": ks.embedding.model, "rerank": ks.retrieval.rerank_model}
            else:
                out = _run_agent_suite(spec, ds, items, cs, config, kb, run_id, chat_model, tools, judge_model)
                out["models"] |= {"endpoint": _endpoint(cs, chat_model), "llm_model_setting": cs.llm.model,
                                  "embedding": ks.embedding.model, "rerank": ks.retrieval.rerank_model}
            cs = ks if spec.suite == "retrieval" else cs
        entry.update(out)
        entry["settings"] = settings_snapshot(cs)
        entry["seconds"] = round(time.perf_counter() - c0, 2)
        results["configs"][config.name] = entry
    results["run"]["seconds"] = round(time.perf_counter() - t0, 2)
    results["run"]["finished"] = dt.datetime.now(dt.UTC).isoformat()
    run_dir = None
    if spec.out_dir:
        from evals.report import write_run

        run_dir = write_run(Path(spec.out_dir) / run_id, results)
    return EvalRun(results, run_dir)
