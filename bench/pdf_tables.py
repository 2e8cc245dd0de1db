"""Tables in real papers: the layout reader's table rows against pdfplumber's table detection, same run.

    python -m bench.pdf_tables [PDF ...]      # default: tests/data/papers/*.pdf

The printed tables are the "Table N" captions the layout reader finds (continuations and supplementary tables
left out). On each page that carries one, a table counts as found when the method returns at least 3 rows of
at least 2 non-empty cells there: the reader's `table` blocks, pdfplumber's `find_tables()` with its default
(ruling lines) strategy, and with text alignment for the columns (`vertical_strategy="text"`). Time is per
page with a table. Then the questions of tests/data/papers/questions.jsonl whose answer is a printed table row
(no sentence end, not a caption): how many each method holds in one of its table rows on the answer's page.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

PAPERS = Path(__file__).resolve().parents[1] / "tests" / "data" / "papers"
# a table-row answer: short, no sentence end, not a caption ("Privacy given 99 1 97", "23403 Spike D614G Cat")
TABLE_ROW = re.compile(r"^(?!(table|fig\.?|figure)\s*\d)(?!.*[.!?]$)(?!.{100})", re.I).match
STRATEGIES = {"lines": {}, "text": {"vertical_strategy": "text", "horizontal_strategy": "lines"}}


def printed_tables(paper) -> dict[str, int]:
    """Table label -> page, from the reader's captions."""
    out: dict[str, int] = {}
    for b in paper.blocks:
        if b.kind == "caption" and b.section and re.match(r"(?i)table\s*\d", b.section) \
                and not re.search(r"(?i)\bcont", b.text[:40]):
            out.setdefault(b.section.lower().replace(" ", ""), b.page)
    return out


def reader_found(paper, label: str, page: int) -> bool:
    rows = [ln for b in paper.blocks if b.kind == "table" and b.page == page
            and (b.section or "").lower().replace(" ", "") == label for ln in b.text.splitlines()]
    return sum(1 for r in rows if r.count(" | ") >= 1) >= 3


def plumber_found(tables) -> int:
    n = 0
    for t in tables:
        rows = [r for r in t.extract() if sum(1 for c in r if c and c.strip()) >= 2]
        n += len(rows) >= 3
    return n


def main() -> None:
    import pdfplumber

    from agent.kb.pdf import extract

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdfs", nargs="*", type=Path)
    a = ap.parse_args()
    pdfs = a.pdfs or sorted(PAPERS.glob("*.pdf"))
    print("| paper | tables | reader | pdfplumber lines | pdfplumber text | reader s/page | pdfplumber s/page |")
    print("|---|---|---|---|---|---|---|")
    tot = [0, 0, 0, 0, 0.0, 0.0, 0, 0]
    for p in pdfs:
        t0 = time.perf_counter()
        paper = extract(str(p))
        reader_s = (time.perf_counter() - t0) / max(paper.pages, 1)
        tables = printed_tables(paper)
        pages = sorted(set(tables.values()))
        found = sum(reader_found(paper, lab, pg) for lab, pg in tables.items())
        plumber = {name: 0 for name in STRATEGIES}
        t0 = time.perf_counter()
        with pdfplumber.open(str(p)) as pdf:
            for pg in pages:
                page = pdf.pages[pg - 1]
                for name, ts in STRATEGIES.items():
                    plumber[name] += min(plumber_found(page.find_tables(ts)),
                                         sum(1 for v in tables.values() if v == pg))
        plumber_s = (time.perf_counter() - t0) / max(len(pages), 1)
        tot = [tot[0] + len(tables), tot[1] + found, tot[2] + plumber["lines"], tot[3] + plumber["text"],
               tot[4] + reader_s * paper.pages, tot[5] + plumber_s * len(pages), tot[6] + paper.pages,
               tot[7] + len(pages)]
        print(f"| {p.stem} | {len(tables)} | {found} | {plumber['lines']} | {plumber['text']} | {reader_s:.2f} | "
              f"{plumber_s:.2f} |")
    print(f"| total | {tot[0]} | {tot[1]} | {tot[2]} | {tot[3]} | {tot[4] / max(tot[6], 1):.2f} | "
          f"{tot[5] / max(1, tot[7]):.2f} |")
    table_answers(pdfs)


def table_answers(pdfs: list[Path]) -> None:
    """Answers that are table rows: held by a row of the reader's table blocks / of pdfplumber's tables?"""
    import json

    import pdfplumber

    from agent.kb.pdf import extract
    from evals.pdf_eval import holds

    qs = [json.loads(x) for x in (PAPERS / "questions.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    stems = {p.stem: p for p in pdfs}
    counts = {"reader": 0, **{f"pdfplumber {n}": 0 for n in STRATEGIES}}
    n = 0
    for pid in sorted({q["paper"] for q in qs} & set(stems)):
        paper = extract(str(stems[pid]))
        with pdfplumber.open(str(stems[pid])) as pdf:
            for q in (q for q in qs if q["paper"] == pid):
                rows = [r.replace(" | ", " ") for b in paper.blocks if b.kind == "table" and b.page == q["page"]
                        for r in b.text.splitlines()]
                plumb = {name: [" ".join(c or "" for c in r) for t in pdf.pages[q["page"] - 1].find_tables(ts)
                                for r in t.extract()] for name, ts in STRATEGIES.items()}
                got = {"reader": any(holds(r, q["answer_sentence"], 1.0) for r in rows)}
                got.update({f"pdfplumber {k}": any(holds(r, q["answer_sentence"], 1.0) for r in v)
                            for k, v in plumb.items()})
                if not TABLE_ROW(q["answer_sentence"]):
                    continue
                n += 1
                for k, v in got.items():
                    counts[k] += v
    print(f"\ntable-row answers ({n}): " + ", ".join(f"{k} {v}/{n}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
