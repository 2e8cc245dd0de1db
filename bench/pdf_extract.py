"""PDF text extraction time per paper: the layout reader (agent.kb.pdf) against plain pypdf, same run.

    python -m bench.pdf_extract [--repeat 3] [PDF ...]      # default: tests/data/papers/*.pdf
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agent.kb.loaders import load_file

PAPERS = Path(__file__).resolve().parents[1] / "tests" / "data" / "papers"


def best_of(path: Path, extractor: str, repeat: int) -> tuple[float, int, int]:
    best, doc = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        [doc] = load_file(path, 2**30, pdf_extractor=extractor)
        best = min(best, time.perf_counter() - t0)
    return best, len(doc.sections), sum(len(s.text) for s in doc.sections)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdfs", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    pdfs = a.pdfs or sorted(PAPERS.glob("*.pdf"))
    print("| paper | pages with text | layout s | pypdf s | ratio | layout chars | pypdf chars |")
    print("|---|---|---|---|---|---|---|")
    tot = [0.0, 0.0]
    for p in pdfs:
        lay, _, lc = best_of(p, "layout", a.repeat)
        old, n_pages, oc = best_of(p, "pypdf", a.repeat)
        tot[0] += lay
        tot[1] += old
        print(f"| {p.stem} | {n_pages} | {lay:.2f} | {old:.2f} | {lay / old:.1f}x | {lc} | {oc} |")
    print(f"| total | | {tot[0]:.2f} | {tot[1]:.2f} | {tot[0] / tot[1]:.1f}x | | |")


if __name__ == "__main__":
    main()
