"""Genome map PNG of one `annotate_genome` record: pycirclize for circular records, dna_features_viewer for linear
ones. Genes are arrows coloured by role (Rep, capsid, other), the stem-loop origin is marked with its nonanucleotide
and nick site."""

from __future__ import annotations

from pathlib import Path

COLOURS = {"rep": "#d62728", "cap": "#1f77b4", "other": "#bbbbbb", "origin": "#2ca02c"}


def _label(g: dict) -> str:
    if g["role"] == "rep":
        return "Rep" + (" (spliced)" if g.get("exons") else "")
    if g["role"] == "cap":
        return "Cap"
    return g.get("product") or ""


def _pieces(start: int, end: int, n: int) -> list[tuple[int, int]]:
    return [(start, end)] if end > start else [(start, n), (0, end)]


def _lanes(genes: list[dict], n: int) -> list[tuple[dict, int]]:
    """(gene, lane) with Rep and capsid first; genes of one strand that overlap go to different lanes."""
    order = sorted(genes, key=lambda g: (g["role"] == "other", g["start"]))
    taken: dict[tuple[int, int], list[tuple[int, int]]] = {}
    out = []
    for g in order:
        spans = [p for a, b in (g.get("exons") or [[g["start"], g["end"]]]) for p in _pieces(a, b, n)]
        lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
        if g["end"] < g["start"] and not g.get("exons"):
            lo, hi = 0, n  # crosses the origin: treat as covering the circle's join
        lane = 0
        while any(lo < b and a < hi for a, b in taken.get((g["strand"], lane), [])):
            lane += 1
        taken.setdefault((g["strand"], lane), []).append((lo, hi))
        out.append((g, lane))
    return out


def _circular(rec: dict, path: Path, title: str) -> None:
    from Bio.SeqFeature import SeqFeature, SimpleLocation
    from pycirclize import Circos

    n = rec["length"]
    circos = Circos({rec["id"]: n}, space=0)
    sector = circos.sectors[0]
    outer = sector.add_track((94, 96))
    outer.axis(fc="#999999", ec="none")
    step = 500 if n <= 6000 else max(1000, (n // 10) // 1000 * 1000)
    outer.xticks_by_interval(step, label_size=7, label_orientation="vertical")
    lanes = _lanes(rec["genes"], n)
    n_plus = 1 + max([lane for g, lane in lanes if g["strand"] == 1], default=0)
    width, gap = 6, 1.5
    for g, lane in lanes:
        if g["strand"] == 1:
            top = 90 - lane * (width + gap)
        else:
            top = 90 - (n_plus + lane) * (width + gap) - 3
        track = sector.add_track((top - width, top))
        spans = [p for a, b in (g.get("exons") or [[g["start"], g["end"]]]) for p in _pieces(a, b, n)]
        for a, b in spans:
            feat = SeqFeature(SimpleLocation(a, b, g["strand"]), type="CDS")
            track.genomic_features(feat, plotstyle="arrow", fc=COLOURS[g["role"]], ec="black", lw=0.4)
        if g["role"] != "other":
            a, b = max(spans, key=lambda ab: ab[1] - ab[0])
            track.text(_label(g), (a + b) / 2, r=top - width / 2, size=8, color="white")
    o = rec.get("origin")
    if o:
        a, b = o["stem_loop"]
        mark = sector.add_track((97, 100))
        for x0, x1 in _pieces(a, b, n):
            mark.rect(x0, x1, fc=COLOURS["origin"], ec="none")
        mark.text(f"stem-loop {o['nonanucleotide']}, nick after {o['nick_after'] + 1}", (o["nick_after"] + 0.5) % n,
                  r=106, size=7, color=COLOURS["origin"])
    fig = circos.plotfig()
    fig.suptitle(title, fontsize=9)
    fig.text(0.5, 0.02, "outer lanes: + strand; inner lanes: - strand; red Rep, blue capsid, grey other ORFs",
             ha="center", fontsize=7)
    fig.savefig(path, dpi=120)


def _linear(rec: dict, path: Path, title: str) -> None:
    import matplotlib.pyplot as plt
    from dna_features_viewer import GraphicFeature, GraphicRecord

    n = rec["length"]
    feats = []
    for g in rec["genes"]:
        for i, (a, b) in enumerate(g.get("exons") or [[g["start"], g["end"]]]):
            for x0, x1 in _pieces(a, b, n):
                feats.append(GraphicFeature(start=x0, end=x1, strand=g["strand"], color=COLOURS[g["role"]],
                                            label=_label(g) if i == 0 else None))
    o = rec.get("origin")
    if o:
        a, b = o["stem_loop"]
        for x0, x1 in _pieces(a, b, n):
            feats.append(GraphicFeature(start=x0, end=x1, strand=0, color=COLOURS["origin"],
                                        label=f"stem-loop {o['nonanucleotide']}"))
    ax, _ = GraphicRecord(sequence_length=n, features=feats).plot(figure_width=10)
    ax.set_title(title, fontsize=9)
    ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)


def genome_map_png(result: dict, path: str | Path, record: int | str = 0) -> Path:
    """Write the map of one record of an `annotate_genome` result (index or id; default the first) to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = result["records"]
    rec = next((r for r in recs if r["id"] == record), None) if isinstance(record, str) else recs[record]
    if rec is None:
        raise ValueError(f"no record '{record}' in the result; records: {', '.join(r['id'] for r in recs)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fam = (rec.get("family") or {}).get("name")
    title = f"{rec['id']} - {rec['length']} nt, {rec['topology']}, CRESS: {rec['is_cress']}" + (f", {fam}" if fam else "")
    if rec["topology"] == "circular":
        _circular(rec, path, title)
    else:
        _linear(rec, path, title)
    plt.close("all")
    return path
