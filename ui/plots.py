"""Figures of the Sequence page: the protein with its Rep motifs highlighted, the mutation-scan heatmap
(positions x amino acids) and the per-position constraint. Inputs are the normalised dicts of ui/sequence_core.py.
"""

from __future__ import annotations

import html
from typing import Any

import altair as alt
import pandas as pd

PALETTE = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa", "#a5f3fc", "#fecaca", "#d9f99d"]


def motif_colors(motifs: list[dict]) -> dict[str, str]:
    colors: dict[str, str] = {}
    for motif in motifs:
        name = str(motif.get("name"))
        if name not in colors:
            colors[name] = PALETTE[len(colors) % len(PALETTE)]
    return colors


def sequence_html(sequence: str, motifs: list[dict], width: int = 60) -> str:
    """The sequence in rows of `width` residues, numbered, each motif's residues highlighted with its name."""
    colors = motif_colors(motifs)
    owner: list[dict | None] = [None] * len(sequence)
    for motif in motifs:
        start, end = int(motif["start"]), int(motif["end"])
        for i in range(max(start, 0), min(end, len(sequence))):
            owner[i] = motif
    rows = []
    for row_start in range(0, len(sequence), width):
        cells = []
        for i in range(row_start, min(row_start + width, len(sequence))):
            residue = html.escape(sequence[i])
            motif = owner[i]
            if motif is None:
                cells.append(residue)
            else:
                title = html.escape(f"{motif['name']} {motif['start'] + 1}-{motif['end']}: {motif.get('match', '')}")
                cells.append(f'<mark style="background:{colors[str(motif["name"])]};padding:0" title="{title}">'
                             f"{residue}</mark>")
            if (i + 1) % 10 == 0 and i + 1 < row_start + width:
                cells.append(" ")
        rows.append(f'<span style="color:#888">{row_start + 1:>6}</span>  ' + "".join(cells))
    legend = " ".join(
        f'<span style="background:{color};padding:1px 6px;border-radius:3px;margin-right:4px">{html.escape(name)}</span>'
        for name, color in colors.items()
    )
    return (f'<div style="font-family:ui-monospace,monospace;font-size:13px;line-height:1.6">'
            f'<div style="margin-bottom:6px">{legend}</div><pre style="margin:0;white-space:pre">'
            + "\n".join(rows) + "</pre></div>")


def scan_frame(scan: dict) -> pd.DataFrame:
    """Long table: position, wild type, substitution, score."""
    rows = []
    alphabet = scan["alphabet"]
    for pos, wt, values in zip(scan["positions"], scan["wt"], scan["matrix"]):
        for aa, value in zip(alphabet, values):
            rows.append({"position": int(pos), "wt": wt, "aa": aa, "score": None if value is None else float(value)})
    return pd.DataFrame(rows)


def heatmap_chart(scan: dict, motifs: list[dict] | None = None) -> alt.Chart:
    """Positions x amino acids, coloured by the scan's score (negative: the substitution is disfavoured)."""
    frame = scan_frame(scan)
    n = len(scan["positions"])
    cell = max(2, min(12, int(1100 / max(n, 1))))
    label = scan.get("score_label") or "score"
    chart = alt.Chart(frame).mark_rect().encode(
        x=alt.X("position:O", title="position", axis=alt.Axis(values=[p for p in scan["positions"] if p % 10 == 0],
                                                               labelAngle=0)),
        y=alt.Y("aa:N", sort=list(scan["alphabet"]), title="substitution", axis=alt.Axis(labelOverlap=False)),
        color=alt.Color("score:Q", title=label, scale=alt.Scale(scheme="redblue", domainMid=0)),
        tooltip=["position", "wt", "aa", alt.Tooltip("score:Q", format=".3f")],
    ).properties(width=cell * n, height=16 * len(scan["alphabet"]), title=f"Mutation scan ({label})")
    return chart


def constraint_chart(scan: dict, motifs: list[dict] | None = None) -> alt.LayerChart | alt.Chart:
    """Per-position constraint (higher: substitutions there hurt more), with the motifs shaded."""
    frame = pd.DataFrame({"position": [int(p) for p in scan["positions"]], "wt": list(scan["wt"]),
                          "constraint": [None if c is None else float(c) for c in scan["constraint"]]})
    label = scan.get("constraint_label") or "constraint"
    line = alt.Chart(frame).mark_line(point=alt.OverlayMarkDef(size=12)).encode(
        x=alt.X("position:Q", title="position"),
        y=alt.Y("constraint:Q", title=label),
        tooltip=["position", "wt", alt.Tooltip("constraint:Q", format=".3f")],
    )
    layers: list[Any] = []
    if motifs:
        colors = motif_colors(motifs)
        spans = pd.DataFrame([{"motif": str(m["name"]), "start": int(m["start"]) + 1, "end": int(m["end"])}
                              for m in motifs])
        layers.append(alt.Chart(spans).mark_rect(opacity=0.45).encode(
            x="start:Q", x2="end:Q",
            color=alt.Color("motif:N", scale=alt.Scale(domain=list(colors), range=list(colors.values()))),
            tooltip=["motif", "start", "end"],
        ))
    layers.append(line)
    return alt.layer(*layers).properties(height=260, title=f"Per-position {label}")
