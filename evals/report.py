"""Results of an eval run: the side-by-side table (rich), results.json, report.md and matplotlib plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Columns of the summary table per suite: (label, path in a configuration's metrics).
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "retrieval": [("recall@1", "recall@1"), ("recall@5", "recall@5"), ("recall@10", "recall@10"), ("MRR", "mrr"),
                  ("nDCG@10", "ndcg@10"), ("ms/query p50", "latency_ms.p50")],
    "answers": [("accuracy", "accuracy"), ("macro-F1", "macro_f1"), ("citation validity", "citation_validity"),
                ("cites gold doc", "cites_gold_doc"), ("groundedness", "groundedness"),
                ("insufficient", "insufficient_evidence_rate"), ("language match", "language_match"),
                ("s/query", "perf.latency_ms.mean"), ("tokens/query", "perf.total_tokens.mean"),
                ("timeouts", "timeouts"), ("errors", "errors")],
    "tools": [("expected tool called", "expected_tool_called"), ("valid args", "valid_args"),
              ("no tool when none", "no_tool_when_none_expected"), ("extra calls/item", "unexpected_calls_per_item"),
              ("s/query", "perf.latency_ms.mean"), ("tokens/query", "perf.total_tokens.mean"), ("timeouts", "timeouts"),
              ("errors", "errors")],
    "sequence": [("call accuracy", "call_accuracy"), ("call macro-F1", "call_macro_f1"),
                 ("motif recall", "motif_recall"), ("motif exact", "motif_exact"),
                 ("motif ±tol", "motif_within_tolerance"), ("errors", "errors")],
}
PLOT_METRICS = {
    "retrieval": ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"],
    "answers": ["accuracy", "macro_f1", "citation_validity", "groundedness", "insufficient_evidence_rate",
                "language_match"],
    "tools": ["expected_tool_called", "valid_args", "no_tool_when_none_expected"],
    "sequence": ["call_accuracy", "call_macro_f1", "motif_recall", "motif_exact", "motif_within_tolerance"],
}


def get_path(data: dict[str, Any], path: str) -> Any:
    """``a.b.c`` lookup; keys may themselves contain dots only at the last level (e.g. ``ndcg@10``)."""
    cur: Any = data
    parts = path.split(".")
    for i, p in enumerate(parts):
        if not isinstance(cur, dict):
            return None
        if p in cur:
            cur = cur[p]
        else:
            rest = ".".join(parts[i:])
            return cur.get(rest)
    return cur


def _fmt(value: Any, label: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if label.startswith("s/"):
            return f"{value / 1000:.2f}"
        if label.startswith("ms/") or "tokens" in label:
            return f"{value:.0f}"
        return f"{value:.3f}"
    return str(value)


def summary_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the side-by-side table: one row per configuration (and route, for retrieval)."""
    suite = results["run"]["suite"]
    cols = COLUMNS[suite]
    rows: list[list[str]] = []
    if suite == "retrieval":
        header = ["configuration", "route", *[c[0] for c in cols]]
        for name, entry in results["configs"].items():
            for route, m in entry["metrics"].items():
                rows.append([name, route + (" (baseline)" if route == "bm25" else ""),
                             *[_fmt(get_path(m, p), lbl) for lbl, p in cols]])
    else:
        header = ["configuration", *[c[0] for c in cols]]
        for name, entry in results["configs"].items():
            rows.append([name, *[_fmt(get_path(entry["metrics"], p), lbl) for lbl, p in cols]])
    return header, rows


def rich_table(results: dict[str, Any]):
    from rich.table import Table

    run = results["run"]
    header, rows = summary_rows(results)
    title = f"{run['suite']} · {run['dataset']['name']} ({run['dataset']['items']} items, seed {run['seed']})"
    table = Table(title=title)
    if run["suite"] == "retrieval":
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i < 2 else "right", no_wrap=i < 2)
        for r in rows:
            table.add_row(*r)
        return table
    # metrics as rows, configurations side by side as columns
    table.add_column("metric", no_wrap=True)
    for r in rows:
        table.add_column(r[0], justify="right")
    for j, h in enumerate(header[1:], start=1):
        table.add_row(h, *[r[j] for r in rows])
    return table


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _plot_rows(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if results["run"]["suite"] == "retrieval":
        multi = len(results["configs"]) > 1
        return [((f"{n}/{r}" if multi else r), m) for n, e in results["configs"].items() for r, m in e["metrics"].items()]
    return [(n, e["metrics"]) for n, e in results["configs"].items()]


def write_plots(run_dir: Path, results: dict[str, Any]) -> list[str]:
    """Grouped bar chart of the suite's metrics per configuration (or route), and a latency box plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suite = results["run"]["suite"]
    rows = _plot_rows(results)
    metrics = [m for m in PLOT_METRICS[suite] if any(isinstance(get_path(r, m), (int, float)) for _, r in rows)]
    files: list[str] = []
    if rows and metrics:
        fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(metrics) * max(1, len(rows)) / 2), 4))
        width = 0.8 / len(rows)
        for i, (label, m) in enumerate(rows):
            vals = [get_path(m, k) if isinstance(get_path(m, k), (int, float)) else 0.0 for k in metrics]
            ax.bar([x + i * width for x in range(len(metrics))], vals, width, label=label)
        ax.set_xticks([x + width * (len(rows) - 1) / 2 for x in range(len(metrics))], metrics, rotation=20)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{suite}: {results['run']['dataset']['name']}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(run_dir / "metrics.png", dpi=110)
        plt.close(fig)
        files.append("metrics.png")
    lat = _latencies(results)
    if lat:
        fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(lat)), 3.5))
        ax.boxplot(list(lat.values()))
        ax.set_xticks(range(1, len(lat) + 1), list(lat.keys()), rotation=20)
        ax.set_ylabel("ms per query")
        ax.set_title("latency")
        fig.tight_layout()
        fig.savefig(run_dir / "latency.png", dpi=110)
        plt.close(fig)
        files.append("latency.png")
    return files


def _latencies(results: dict[str, Any]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for name, entry in results["configs"].items():
        for row in entry.get("items", []):
            if "perf" in row:
                out.setdefault(name, []).append(row["perf"]["latency_ms"])
    return out


def _models_line(entry: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in (entry.get("models") or {}).items() if v not in (None, [], ""))


def markdown_report(results: dict[str, Any], plots: list[str]) -> str:
    run = results["run"]
    ds = run["dataset"]
    git = run.get("git") or {}
    header, rows = summary_rows(results)
    lines = [
        f"# Eval run {run['id']}",
        "",
        f"- suite: **{run['suite']}**; dataset: `{ds['path']}` ({ds['format']}, {ds['items']} of {ds['items_total']} "
        f"items, sha256 {ds['sha256'][:12]}…); seed {run['seed']}, limit {run['limit']}",
        f"- code: git {git.get('commit') or 'unknown'}{' (uncommitted changes)' if git.get('dirty') else ''}; "
        f"started {run['started']}, {run['seconds']} s",
        "",
        "## Results",
        "",
        markdown_table(header, rows),
        "",
    ]
    for name, entry in results["configs"].items():
        cfg = entry["config"]
        lines.append(f"- **{name}**: {cfg.get('description') or ''} overrides `{json.dumps(cfg['overrides'])}`, "
                     f"settings `{json.dumps(cfg['settings'])}`; {_models_line(entry)}")
        if entry.get("skipped_routes"):
            for r, why in entry["skipped_routes"].items():
                lines.append(f"  - route {r} skipped: {why}")
        m = entry.get("metrics", {})
        if isinstance(m, dict) and m.get("label_sources"):
            lines.append(f"  - labels read from: {json.dumps(m['label_sources'])}")
    lines.append("")
    for p in plots:
        lines += [f"![{p}]({p})", ""]
    lines += ["Per-item rows, the effective settings of each configuration and all metrics are in `results.json`.", ""]
    return "\n".join(lines)


def write_run(run_dir: Path, results: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str),
                                          encoding="utf-8")
    try:
        plots = write_plots(run_dir, results)
    except Exception as exc:  # noqa: BLE001 - the numbers matter more than the pictures
        plots = []
        results["run"]["plot_error"] = str(exc)
    (run_dir / "report.md").write_text(markdown_report(results, plots), encoding="utf-8")
    return run_dir
