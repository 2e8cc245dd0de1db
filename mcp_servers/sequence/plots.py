"""Heatmap of a mutational scan (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path


def scan_heatmap(scan: dict, path: str | Path, *, title: str | None = None) -> Path:
    """Write a PNG heatmap of `service.mutational_scan(...)` output (needs `matrix`): x = positions, y = amino acids."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    m = np.array(scan["matrix"], dtype=float).T  # (20, L)
    aas = scan["amino_acids"]
    wt = scan["wild_type"]
    L = m.shape[1]
    lim = float(np.nanpercentile(np.abs(m), 99)) or 1.0
    fig, ax = plt.subplots(figsize=(min(60, max(8, L / 12)), 4.2))
    im = ax.imshow(m, aspect="auto", cmap="RdBu", vmin=-lim, vmax=lim, interpolation="nearest")
    cols = [aas.find(c) for c in wt]
    xs = [i for i, c in enumerate(cols) if c >= 0]
    ax.scatter(xs, [cols[i] for i in xs], s=2, c="black", marker="s", linewidths=0, label="wild type")
    ax.set_yticks(range(len(aas)), list(aas), fontsize=7)
    step = 10 if L <= 200 else 25 if L <= 600 else 100
    ticks = list(range(step - 1, L, step))
    ax.set_xticks(ticks, [str(t + 1) for t in ticks], fontsize=7)
    ax.set_xlabel("position")
    rid = scan.get("record", {}).get("id", "")
    ax.set_title(title or f"{rid} - {scan['model']} {scan['strategy']} (log p(mt) - log p(wt))", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
