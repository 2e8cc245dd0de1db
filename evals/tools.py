"""Tools suite scoring: did the agent call the expected tool, with valid arguments?

For an item with ``gold_tool``:

- ``called``: a call of that tool was made (a call the guards rejected does not count);
- ``valid_args``: such a call succeeded (the tool accepted its arguments) and its arguments contain every
  ``gold_tool_args`` value (strings compared case-insensitively after trimming, lists as sets that must
  include the expected items; a protein sequence may be given as FASTA or letters);
- ``gold_tool: none`` means no tool should be called (``called`` is then "no call was made").

The calls are read from ``RunResult.tool_results``, and from the trace's ``tool_call`` events for calls that
never produced a result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agent.events import RunResult
from evals.metrics import mean

NO_TOOL = {"none", "no_tool", "-"}


def tool_calls(result: RunResult) -> list[dict[str, Any]]:
    """Every tool call of a run: name, args, ok, error, rejected."""
    calls = [{"id": t.id, "name": t.name, "args": t.args, "ok": t.ok, "error": t.error,
              "rejected": bool(t.error and t.error.startswith("call rejected"))} for t in result.tool_results]
    seen = {c["id"] for c in calls}
    for ev in result.trace:
        if ev.type == "tool_call" and ev.data.get("id") not in seen:
            calls.append({"id": ev.data.get("id"), "name": ev.data.get("name"), "args": ev.data.get("args") or {},
                          "ok": False, "error": "no result", "rejected": False})
    return calls


def _norm(v: Any) -> Any:
    if isinstance(v, str):
        s = v.strip()
        if s.startswith(">"):  # FASTA -> residues
            s = "".join(s.splitlines()[1:])
        if re.fullmatch(r"[A-Z*\s]{20,}", s):  # an upper-case residue string: line breaks do not matter
            return re.sub(r"\s+", "", s)
        return s.lower()
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def args_match(expected: dict[str, Any], given: dict[str, Any]) -> bool:
    for key, want in expected.items():
        if key not in given:
            return False
        got, want = _norm(given[key]), _norm(want)
        if isinstance(want, list):
            got_list = got if isinstance(got, list) else [got]
            if not all(w in got_list for w in want):
                return False
        elif got != want:
            return False
    return True


def score_tools(item: Any, result: RunResult) -> dict[str, Any] | None:
    """Per-item tool scores, or None when the item names no expected tool."""
    gold = getattr(item, "gold_tool", None)
    if not gold:
        return None
    calls = tool_calls(result)
    made = [c for c in calls if not c["rejected"]]
    row: dict[str, Any] = {"gold_tool": gold, "calls": [{k: c[k] for k in ("name", "ok", "rejected")} for c in calls]}
    if gold.lower() in NO_TOOL:
        row.update(called=not made, valid_args=not made, unexpected_calls=len(made))
        return row
    mine = [c for c in made if c["name"] == gold]
    want = getattr(item, "gold_tool_args", {}) or {}
    row.update(called=bool(mine),
               valid_args=any(c["ok"] and args_match(want, c["args"]) for c in mine),
               unexpected_calls=len([c for c in made if c["name"] != gold]),
               rejected_calls=len([c for c in calls if c["rejected"]]))
    return row


def aggregate_tools(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    scored = [r for r in rows if r is not None and not r.get("error")]
    expect_tool = [r for r in scored if r["gold_tool"].lower() not in NO_TOOL]
    expect_none = [r for r in scored if r["gold_tool"].lower() in NO_TOOL]
    return {
        "tool_items": len(scored),
        "expected_tool_called": mean(r["called"] for r in expect_tool),
        "valid_args": mean(r["valid_args"] for r in expect_tool),
        "no_tool_when_none_expected": mean(r["called"] for r in expect_none),
        "unexpected_calls_per_item": mean(r["unexpected_calls"] for r in scored),
        "tool_accuracy": mean(r["valid_args"] for r in scored),
    }
