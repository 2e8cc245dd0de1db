"""How a run looks on the page: the live trace (one st.status per node), the answer's citations and tool results.

Everything here reads the shared types of agent/events.py (TraceEvent, RunResult, Citation, ToolResult) and
agent/kb/models.py (Hit), so a run streamed in-process or over the API renders identically, live or replayed.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from agent.events import RunResult, TraceEvent
from ui.i18n import plural, t

# Material icons ship with Streamlit's front end, so they render where no emoji font is installed.
NODE_ICONS = {
    "route": ":material/alt_route:", "rewrite": ":material/edit_note:", "retrieve": ":material/library_books:",
    "grade": ":material/rule:", "plan_tools": ":material/checklist:", "run_tools": ":material/build:",
    "answer": ":material/chat:", "verify": ":material/verified:", "report": ":material/description:",
    "api": ":material/cloud:",
}
TOOL_ICON = ":material/build:"
ERROR_ICON = ":material/warning:"
OK_MARK = ":green[:material/check_circle:]"
FAIL_MARK = ":red[:material/error:]"
STAGES = ("dense", "sparse", "dbsf", "rrf", "rerank")
# Keys render_step_body shows in its own way; anything else a node notes is shown as JSON below them.
_SHOWN_KEYS = {
    "route", "decision", "reason", "why", "guard_reason", "guarded", "llm", "model", "language", "queries", "query",
    "round", "hits", "passages", "total_passages", "grades", "relevant", "sufficient", "missing", "calls",
    "tool_calls", "rejected", "results", "citations", "invalid_citations", "fallback", "fallback_reasons",
    "errors", "error", "duration_ms", "llm_ms", "llm_calls", "tokens", "usage", "iteration", "bound_tools",
    "remaining",
}


def _fmt_ms(ms: Any) -> str:
    try:
        ms = float(ms)
    except (TypeError, ValueError):
        return ""
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _hit_dict(p: Any) -> dict:
    return p if isinstance(p, dict) else getattr(p, "model_dump", lambda: {"text": str(p)})()


def _hits_by_query(data: dict) -> dict[str, list[dict]]:
    """Passages a node reports, grouped by the query that found them ("" when not per query)."""
    hits = data.get("hits", data.get("passages"))
    if isinstance(hits, dict):
        return {str(q): [_hit_dict(h) for h in _as_list(v)] for q, v in hits.items()}
    return {"": [_hit_dict(h) for h in _as_list(hits)]} if hits else {}


def _queries(data: dict) -> list[str]:
    return [str(q) for q in _as_list(data.get("queries", data.get("query")))]


def _grade_counts(grades: Any) -> tuple[int, int] | None:
    items = _as_list(grades) if not isinstance(grades, dict) else list(grades.values())
    if not items:
        return None
    relevant = 0
    for g in items:
        verdict = g.get("relevant", g.get("grade")) if isinstance(g, dict) else g
        if verdict is True or (isinstance(verdict, str) and verdict.lower() in ("yes", "relevant", "true")):
            relevant += 1
    return relevant, len(items)


def step_summary(node: str | None, data: dict) -> str:
    """A short what-it-decided for the step's label."""
    bits: list[str] = []
    decision = data.get("route") or data.get("decision")
    if decision:
        bits.append(t("sum.route", route=decision))
    if node in ("rewrite", "retrieve") and data.get("round") is not None:
        bits.append(t("sum.round", n=data["round"]))
    queries = _queries(data)
    if queries and node != "retrieve":
        bits.append(plural(len(queries), "sum.query", "sum.queries"))
    if "total_passages" in data:
        bits.append(plural(int(data["total_passages"] or 0), "sum.passage", "sum.passages"))
    elif "hits" in data or ("passages" in data and node != "answer"):
        unique = {h.get("chunk_id") or id(h) for hs in _hits_by_query(data).values() for h in hs}
        bits.append(plural(len(unique), "sum.passage", "sum.passages"))
    counts = _grade_counts(data.get("grades"))
    if counts:
        bits.append(t("sum.relevant", relevant=counts[0], total=counts[1]))
    if data.get("sufficient") is False:
        bits.append(t("sum.insufficient"))
    calls = _as_list(data.get("calls", data.get("tool_calls")))
    if calls or "calls" in data:
        bits.append(plural(len(calls), "sum.call_planned", "sum.calls_planned"))
    if data.get("rejected"):
        bits.append(t("sum.rejected", n=len(data["rejected"])))
    results = _as_list(data.get("results"))
    if results:
        failed = sum(1 for r in results if isinstance(r, dict) and r.get("ok") is False)
        bits.append(plural(len(results), "sum.result", "sum.results") + (t("sum.failed", n=failed) if failed else ""))
    if "citations" in data:
        bits.append(plural(len(_as_list(data["citations"])), "sum.citation", "sum.citations"))
    if data.get("invalid_citations"):
        bits.append(t("sum.removed", n=len(data["invalid_citations"])))
    if data.get("fallback"):
        bits.append(t("sum.fallback"))
    if data.get("errors"):
        bits.append(plural(len(_as_list(data["errors"])), "sum.error", "sum.errors"))
    return t("sum.sep").join(bits)


def step_label(event: TraceEvent) -> str:
    node = event.node or event.type
    icon = NODE_ICONS.get(node, ":material/radio_button_checked:")
    summary = step_summary(node, event.data)
    took = _fmt_ms(event.data.get("duration_ms"))
    label = f"{icon} **{node}**"
    if summary:
        label += f" — {summary}"
    if took:
        label += f" · {took}"
    return label


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def passages_rows(passages: list[dict]) -> list[dict]:
    """One row per passage: its reference, title, page, final score and the score of each stage."""
    rows = []
    for i, p in enumerate(passages, 1):
        scores = p.get("scores") or {}
        row = {"ref": p.get("ref") or f"P{i}", "title": p.get("title") or p.get("doc_id", ""),
               "page": p.get("page"), "score": _round(p.get("score"))}
        for stage in (*STAGES, *scores):
            if stage in scores:
                row[stage] = _round(scores[stage])
        if p.get("chunk_id"):
            row["chunk"] = p["chunk_id"]
        rows.append(row)
    return rows


def table(rows: list[dict]) -> None:
    """A compact table; columns empty in every row are left out."""
    keep = [k for k in dict.fromkeys(k for r in rows for k in r) if any(r.get(k) not in (None, "") for r in rows)]
    st.dataframe([{k: r.get(k) for k in keep} for r in rows], hide_index=True, width="stretch")


def render_step_body(data: dict) -> None:
    """What one node decided and why, inside its st.status."""
    decision = data.get("route") or data.get("decision")
    if decision:
        st.markdown(t("trace.route", route=decision)
                    + (t("trace.guards", guards=data["guarded"]) if data.get("guarded") else ""))
    for key, title in (("guard_reason", "trace.why_guards"), ("reason", "trace.why"), ("why", "trace.why"),
                       ("llm", "trace.model"), ("model", "trace.model")):
        if data.get(key):
            st.markdown(t(title, value=data[key]))
    if data.get("language"):
        st.caption(t("trace.language", value=data["language"]))
    queries = _queries(data)
    if queries:
        round_note = t("trace.round", n=data["round"]) if data.get("round") is not None else ""
        st.markdown(t("trace.queries", round=round_note) + "\n" + "\n".join(f"- {q}" for q in queries))
    for query, hits in _hits_by_query(data).items():
        if not hits:
            st.caption(t("trace.no_passage_for", query=query) if query else t("trace.no_passage"))
            continue
        st.markdown(t("trace.passages_for", query=query) if query else t("trace.passages"))
        table(passages_rows(hits))
    grades = _as_list(data.get("grades"))
    if grades:
        counts = _grade_counts(grades)
        st.markdown(t("trace.grading", relevant=counts[0], total=counts[1]) if counts else t("trace.grading_plain"))
        table([g if isinstance(g, dict) else {"grade": g} for g in grades])
    if data.get("sufficient") is not None:
        st.markdown(t("trace.sufficient", answer=t("seq.yes") if data["sufficient"] else t("seq.no"))
                    + (t("trace.missing", missing=data["missing"]) if data.get("missing") else ""))
    for call in _as_list(data.get("calls", data.get("tool_calls"))):
        if isinstance(call, dict):
            origin = f" ({call['origin']})" if call.get("origin") else ""
            st.markdown(t("trace.planned", name=call.get("name"), origin=origin))
            st.json(call.get("args") or {}, expanded=False)
    for rej in _as_list(data.get("rejected")):
        if isinstance(rej, dict):
            st.markdown(t("trace.rejected", name=rej.get("name"), reason=rej.get("reason", "")))
    results = [r for r in _as_list(data.get("results")) if isinstance(r, dict)]
    if results:
        table([{"id": r.get("id"), "tool": r.get("name"), "ok": r.get("ok"), "error": r.get("error") or "",
                 "time": _fmt_ms(r.get("duration_ms"))} for r in results])
    if "citations" in data:
        cited = ", ".join(str(c) for c in _as_list(data["citations"])) or t("trace.none")
        st.markdown(t("trace.citations_kept", cited=cited))
    if data.get("invalid_citations"):
        st.markdown(t("trace.citations_removed", refs=", ".join(map(str, data["invalid_citations"]))))
    if data.get("fallback"):
        st.markdown(t("trace.fallback", reasons="; ".join(map(str, _as_list(data.get("fallback_reasons"))))))
    for error in _as_list(data.get("errors")) + _as_list(data.get("error")):
        st.warning(str(error))
    usage = data.get("tokens") or data.get("usage")
    meter = []
    if isinstance(usage, dict) and any(usage.values()):
        meter.append(t("trace.tokens", usage=", ".join(f"{k} {v}" for k, v in usage.items())))
    if data.get("llm_calls"):
        meter.append(plural(int(data["llm_calls"]), "trace.model_call", "trace.model_calls")
                     + t("trace.took", took=_fmt_ms(data.get("llm_ms"))))
    if meter:
        st.caption(" · ".join(meter))
    rest = {k: v for k, v in data.items() if k not in _SHOWN_KEYS and v not in (None, [], {}, "")}
    if rest:
        st.json(rest, expanded=False)


def _tool_key(data: dict) -> str:
    return str(data.get("id") or data.get("tool_call_id") or data.get("name") or "tool")


def _tool_content(content: Any) -> None:
    if isinstance(content, (dict, list)):
        st.json(content, expanded=False)
    elif content is not None:
        text = str(content)
        try:
            st.json(json.loads(text), expanded=False)
        except ValueError:
            st.code(text[:4000], language=None)


class TraceView:
    """Renders trace events into a container: a step per node, a box per tool call (running until its result)."""

    def __init__(self, container: Any, *, live: bool = True):
        self.container = container
        self.live = live
        self.steps = 0
        self._tools: dict[str, Any] = {}
        self._outer: Any = None
        self._elapsed_ms = 0.0

    def _root(self) -> Any:
        if self._outer is None:
            label = t("trace.working") if self.live else t("trace.title")
            self._outer = self.container.status(label, expanded=self.live,
                                                state="running" if self.live else "complete")
        return self._outer

    def add(self, event: TraceEvent | dict) -> None:
        if isinstance(event, dict):
            event = TraceEvent.model_validate(event)
        if event.type == "token":
            return
        # Boxes are added with root.status(...), never inside `with root:` (leaving a running st.status's `with`
        # block marks it complete); a box is entered only once its own state is final, for the same reason.
        root = self._root()
        data = event.data
        if event.type == "step":
            self.steps += 1
            self._elapsed_ms += float(data.get("duration_ms") or 0.0)
            with root.status(step_label(event), state="error" if data.get("error") else "complete"):
                render_step_body(data)
            if self.live:
                root.update(label=plural(self.steps, "trace.working_step", "trace.working_steps"), expanded=True)
        elif event.type == "tool_call":
            box = root.status(f"{TOOL_ICON} **{data.get('name', 'tool')}** — {t('trace.calling')}",
                              state="running" if self.live else "complete")
            box.markdown(t("trace.arguments"))
            box.json(data.get("args") or {}, expanded=False)
            self._tools[_tool_key(data)] = box
        elif event.type == "tool_result":
            box = self._tools.pop(_tool_key(data), None)
            failed = data.get("ok") is False or bool(data.get("error"))
            took = _fmt_ms(data.get("duration_ms"))
            label = f"{TOOL_ICON} **{data.get('name', 'tool')}** — {t('trace.failed' if failed else 'trace.result')}"
            if took:
                label += f" · {took}"
            if box is None:
                box = root.status(label, state="error" if failed else "complete")
                if data.get("args"):
                    box.markdown(t("trace.arguments"))
                    box.json(data.get("args"), expanded=False)
            box.update(label=label, state="error" if failed else "complete")
            with box:
                if failed:
                    st.error(str(data.get("error") or t("trace.tool_failed")))
                else:
                    st.markdown(t("trace.result_label"))
                    _tool_content(data.get("content", data.get("result")))
        elif event.type == "error":
            box = root.status(f"{ERROR_ICON} **{event.node or 'error'}** — {str(data.get('message', ''))[:120]}",
                              state="error")
            box.write(data.get("message") or data)
        elif event.type == "done":
            self.finish(data)

    def finish(self, result: dict | None = None, *, failed: bool = False) -> None:
        if self._outer is None and failed:  # the run failed before its first step: the error says it all
            return
        root = self._root()
        total = (result or {}).get("duration_ms") or self._elapsed_ms
        label = plural(self.steps, "trace.done_step", "trace.done_steps")
        if total:
            label += f", {_fmt_ms(total)}"
        for box in self._tools.values():
            box.update(state="error")
        root.update(label=label, state="error" if failed else "complete", expanded=False)


def render_trace(events: list[dict], result: dict | None = None) -> None:
    """Replay a stored trace (collapsed); ``result`` is the run's RunResult dict, if it finished."""
    view = TraceView(st, live=False)
    for event in events:
        view.add(event)
    view.finish(result, failed=result is None)


def render_problems(events: list[dict]) -> None:
    """Errors the run handled (model endpoint down, a tool failing, bad input), readable, next to the answer."""
    seen: set[str] = set()
    for event in events:
        if event.get("type") != "error":
            continue
        message = str((event.get("data") or {}).get("message") or "").strip()
        if message and message not in seen:
            seen.add(message)
            st.warning(t("trace.problem", node=event.get("node") or "run", message=message), icon=ERROR_ICON)


def render_citations(result: RunResult | dict) -> None:
    """The answer's checked citations (ui/citations_view.py)."""
    from ui.citations_view import render_citations as render

    render(result)
