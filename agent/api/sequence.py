"""What ``/v1/sequence/analyze`` and ``/v1/sequence/genome`` compute, from the sequence core
(``mcp_servers.sequence.service``, and ``mcp_servers.sequence.genome.annotate_genome`` for DNA) in-process.

``analyze``: every protein in the input (a DNA record's CDS/ORF translations included) with its Rep annotation
and ProtParam properties; the ESM-2 scan (``scan``) and variant scores (``mutations``) of the chosen protein (the
best Rep call, else the first); and, for DNA input, the genome annotation. Input errors raise ``ValueError``.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

_RANK = {"yes": 2, "partial": 1}


def annotate_genome(text: str, circular: bool | None = None) -> dict[str, Any]:
    """The genome core of issue #13 (``{"records": [...]}``)."""
    from mcp_servers.sequence.genome import annotate_genome as core

    return core(text, circular=circular)


def genome_map_png(annotation: dict[str, Any]) -> str:
    """The map of the first record, drawn by the genome core, as base64 PNG."""
    from mcp_servers.sequence.genome import genome_map_png as draw

    with tempfile.TemporaryDirectory(prefix="bioagent-map-") as tmp:
        path = draw(annotation, Path(tmp) / "map.png")
        return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def analyze(text: str, *, scan: bool = True, mutations: list[str] | None = None, settings: Any = None) -> dict:
    from mcp_servers.sequence import service

    parsed = service.parse(text, translate_dna=True, settings=settings)
    proteins = parsed.get("proteins") or [r for r in parsed["records"] if r.get("kind") == "protein"]
    is_dna = any(r.get("kind") == "nucleotide" for r in parsed["records"])
    if not proteins:
        raise ValueError("no protein in the input (and no coding sequence to translate)")
    annotations = {a["id"]: a for a in service.annotate_rep(text, translate_dna=True, settings=settings)["records"]}
    props = {p["id"]: p for p in service.properties(text, translate_dna=True, settings=settings)["records"]}

    def rank(p: dict) -> tuple:
        a = annotations.get(p["id"]) or {}
        return _RANK.get(str(a.get("call")), 0), a.get("chain_score") or 0.0

    chosen = max(proteins, key=rank)
    records = []
    for p in proteins:
        records.append({"id": p["id"], "length": p.get("length") or len(p.get("sequence", "")),
                        "sequence": p.get("sequence"), "parent": p.get("parent"), "location": p.get("location"),
                        "annotation": annotations.get(p["id"]), "properties": props.get(p["id"]),
                        "chosen": p["id"] == chosen["id"]})
    out: dict[str, Any] = {"records": records, "chosen": chosen["id"], "format": parsed.get("format"),
                           "warnings": [w for w in parsed.get("warnings") or [] if "translate_dna" not in w],
                           "scan": None, "scan_error": None, "mutations": None}
    if scan:
        try:
            out["scan"] = service.mutational_scan(text, record_id=chosen["id"], translate_dna=True, top=10,
                                                  settings=settings)
        except Exception as exc:  # noqa: BLE001 - the annotation is still worth showing
            out["scan_error"] = f"{type(exc).__name__}: {exc}"
    if mutations:
        out["mutations"] = service.score_mutations(text, mutations, record_id=chosen["id"], translate_dna=True,
                                                   settings=settings)
    if is_dna:
        out["genome"] = annotate_genome(text)
    return out
