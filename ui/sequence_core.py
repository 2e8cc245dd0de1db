"""What the Sequence page plots, taken from the sequence core (mcp_servers/sequence/service.py) in-process or from
the report's figure data over the API, in one shape:

    {"record": {"id", "description", ...}, "sequence": str, "records": [{"id", "length", "call"}],
     "motifs": [{"name", "start" (0-based), "end" (exclusive), "match", "score", "domain"}],
     "verdict": str, "notes": [str],
     "scan": {"positions" (1-based), "wt", "alphabet", "matrix" (positions x alphabet), "constraint", "model",
              "score_label", "constraint_label"} | None,
     "scan_error": str | None}

No analysis happens here: parsing, the Rep call and the ESM scan are the sequence core's.
"""

from __future__ import annotations

from typing import Any

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


def analyze(text: str, *, scan: bool = True, settings: Any = None) -> dict:
    """Parse (translating a genome's CDS/ORFs), annotate every protein, pick the Rep (else the first protein) and
    scan it. Input errors raise the core's SequenceError (a ValueError whose message is for the user)."""
    from mcp_servers.sequence import service

    if not text or not text.strip():
        raise ValueError("Paste or upload a sequence first.")
    parsed = service.parse(text, translate_dna=True, settings=settings)
    proteins = parsed.get("proteins") or [r for r in parsed["records"] if r.get("kind") == "protein"]
    if not proteins:
        raise ValueError("No protein in the input (and no coding sequence to translate).")
    annotations = {a["id"]: a for a in service.annotate_rep(text, translate_dna=True, settings=settings)["records"]}
    rank = {"yes": 2, "partial": 1}

    def score(p: dict) -> tuple:
        a = annotations.get(p["id"]) or {}
        return rank.get(str(a.get("call")), 0), a.get("chain_score") or 0.0

    chosen = max(proteins, key=score)
    annotation = annotations.get(chosen["id"])
    description = next((r.get("description", "") for r in parsed["records"] if r["id"] == chosen["id"]), "")
    notes = list(parsed.get("warnings") or [])
    notes = [n for n in notes if "translate_dna" not in n]
    if len(proteins) > 1:
        notes.append(f"{len(proteins)} proteins in the input; showing {chosen['id']}"
                     + (" (the best Rep call)." if score(chosen)[0] else " (the first)."))
    if chosen.get("parent"):
        notes.append(f"Translated from {chosen['parent']} at {chosen.get('location')}.")
    result = {
        "record": {"id": chosen["id"], "description": description, "parent": chosen.get("parent"),
                   "location": chosen.get("location")},
        "sequence": chosen["sequence"],
        "records": [{"id": p["id"], "length": p.get("length"), "call": (annotations.get(p["id"]) or {}).get("call")}
                    for p in proteins],
        "motifs": _motifs((annotation or {}).get("motifs")),
        "verdict": _verdict(annotation),
        "notes": notes,
        "scan": None,
        "scan_error": None,
    }
    if scan:
        try:
            raw = service.mutational_scan(text, record_id=chosen["id"], translate_dna=True, top=10,
                                          settings=settings)
            result["scan"] = _scan(raw)
        except Exception as exc:  # the annotation is still worth showing: say why the scan is missing
            from ui.client import describe_error

            result["scan_error"] = describe_error(exc)
    return result


def from_report_data(data: dict, text: str) -> dict:
    """The same shape from the report's ``data`` (figures.motif_map, figures.heatmap, figures.constraint_profile)."""
    seq = (data.get("sequence") or {}).get("sequence") or ""
    figures = data.get("figures") or {}
    annotation = data.get("annotation") if isinstance(data.get("annotation"), dict) else None
    result = {
        "record": {"id": (data.get("sequence") or {}).get("id") or "sequence",
                   "description": (data.get("sequence") or {}).get("header", "")},
        "sequence": seq,
        "records": [],
        "motifs": _motifs((figures.get("motif_map") or {}).get("motifs")),
        "verdict": _verdict(annotation),
        "notes": [],
        "scan": None,
        "scan_error": None,
    }
    heatmap, profile = figures.get("heatmap") or {}, figures.get("constraint_profile") or {}
    if isinstance(heatmap.get("matrix"), list) and isinstance(profile.get("values"), list):
        result["scan"] = {"positions": list(range(1, len(seq) + 1)), "wt": list(seq),
                          "alphabet": heatmap.get("alphabet") or "ACDEFGHIKLMNPQRSTVWY", "matrix": heatmap["matrix"],
                          "constraint": profile["values"], "model": (data.get("scan") or {}).get("model"),
                          "score_label": SCORE_LABEL, "constraint_label": CONSTRAINT_LABEL}
    else:
        result["scan_error"] = next((e for e in data.get("errors") or [] if "scan" in e),
                                    "the server's report has no scan data")
    return result
