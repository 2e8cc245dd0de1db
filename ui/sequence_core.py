"""What the Sequence page plots, from the sequence analysis both backends return (``agent.api.sequence.analyze``:
called in-process, or by ``POST /v1/sequence/analyze`` on the server), in one shape:

    {"record": {"id", "description", ...}, "sequence": str, "records": [{"id", "length", "call"}],
     "motifs": [{"name", "start" (0-based), "end" (exclusive), "match", "score", "domain"}],
     "verdict": str, "notes": [str],
     "scan": {"positions" (1-based), "wt", "alphabet", "matrix" (positions x alphabet), "constraint", "model",
              "score_label", "constraint_label"} | None,
     "scan_error": str | None, "properties": dict | None, "genome": annotate_genome's answer | None,
     "genome_error": str | None}

No analysis happens here: parsing, the Rep call, the ESM scan and the genome are the sequence core's.
"""

from __future__ import annotations

SCORE_LABEL = "log p(mt) − log p(wt)"
CONSTRAINT_LABEL = "constraint (− mean substitution score)"


def _motifs(raw: list[dict] | None) -> list[dict]:
    """Core motifs (1-based start, inclusive end) -> 0-based start, exclusive end."""
    out = []
    for m in raw or []:
        if not isinstance(m, dict) or m.get("start") is None or m.get("end") is None:
            continue
        out.append({"name": m.get("name") or m.get("motif") or m.get("key") or "motif",
                    "start": int(m["start"]) - 1, "end": int(m["end"]), "match": m.get("sequence", ""),
                    "score": m.get("score"), "domain": m.get("domain")})
    return out


def _verdict(annotation: dict | None) -> str:
    if not annotation:
        return ""
    call = {"yes": "CRESS Rep", "partial": "partial CRESS Rep", "no": "not a CRESS Rep",
            "huh_only": "HUH endonuclease without SF3 helicase (phage/plasmid Rep or RepA)"}.get(
        str(annotation.get("call")), str(annotation.get("call") or ""))
    reasons = " ".join(str(r) for r in annotation.get("reasons") or [])
    return f"{call} — {reasons}" if reasons else call


def _scan(scan: dict) -> dict:
    wt = scan["wild_type"]
    return {"positions": list(range(1, len(wt) + 1)), "wt": list(wt), "alphabet": scan["amino_acids"],
            "matrix": scan["matrix"], "constraint": scan["constraint"], "model": scan.get("model"),
            "score_label": SCORE_LABEL, "constraint_label": CONSTRAINT_LABEL}


def page_data(raw: dict) -> dict:
    """The page's shape from ``/v1/sequence/analyze``'s answer (``agent.api.sequence.analyze``, which the in-process
    backend calls too): the chosen protein (the best Rep call, else the first), its motifs, verdict and scan."""
    records = raw.get("records") or []
    if not records:
        raise ValueError("No protein in the input (and no coding sequence to translate).")
    chosen = next((r for r in records if r.get("chosen") or r.get("id") == raw.get("chosen")), records[0])
    annotation = chosen.get("annotation") if isinstance(chosen.get("annotation"), dict) else None
    result = {
        "record": {"id": chosen.get("id"), "description": chosen.get("description", ""),
                   "parent": chosen.get("parent"), "location": chosen.get("location")},
        "sequence": chosen.get("sequence") or "",
        "records": [{"id": r.get("id"), "length": r.get("length"),
                     "call": (r.get("annotation") or {}).get("call")} for r in records],
        "motifs": _motifs((annotation or {}).get("motifs")),
        "verdict": _verdict(annotation),
        "properties": chosen.get("properties"),
        "notes": [str(w) for w in raw.get("warnings") or []],
        "scan": None,
        "scan_error": raw.get("scan_error"),
        "genome": raw.get("genome"),
        "genome_error": raw.get("genome_error"),
    }
    raw_scan = raw.get("scan")
    if isinstance(raw_scan, dict) and raw_scan.get("matrix"):
        result["scan"] = _scan(raw_scan)
    return result
