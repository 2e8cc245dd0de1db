"""PDF ingest evaluation: real open-access papers and questions whose answers are sentences on known pages.

For each PDF extractor (``layout``, the default, and ``pypdf``, the former plain text) the papers are ingested
into a fresh embedded store and every question is searched (``KnowledgeBase.search``, as ``bioagent search``):

- top-5 rate: the answer's chunk (right paper, right page, holding the sentence) is among the first 5 hits;
- title and DOI of every paper against ``papers.json``;
- split hyphens (``infec- tion``) and furniture (lines printed on many pages of the paper: running headers,
  footers, watermarks; ``Downloaded from``) in the retrieved chunks, as a fraction of retrieved chunks;
- ingest time.

Text is compared after dropping everything but letters and digits, so quotes, spacing and line breaks do not
decide a match. ``python -m evals.pdf_eval [--papers DIR] [--extractor layout|pypdf|both] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from difflib import SequenceMatcher
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPERS = ROOT / "tests" / "data" / "papers"
SPLIT_HYPHEN_RE = re.compile(r"\b[a-z]{2,}-\s+(?!and\b|or\b|to\b|nor\b)[a-z]{2,}\b")
WATERMARK_RE = re.compile(r"downloaded from|protected by copyright|for personal use only", re.I)


def norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def holds(chunk: str, sentence: str, min_frac: float = 0.8) -> bool:
    """Does the chunk hold the sentence (or, when a chunk border cuts it, at least min_frac of it)?"""
    c, s = norm(chunk), norm(sentence)
    if not s:
        return False
    if s in c:
        return True
    m = SequenceMatcher(None, c, s, autojunk=False).find_longest_match(0, len(c), 0, len(s))
    return m.size >= min_frac * len(s)


def furniture_lines(pdf: Path) -> set[str]:
    """Lines (normalised, >= 12 letters) printed on at least 3 pages, or on half the pages, of the paper as
    pypdf reads it: running headers/footers and watermarks, found independently of the layout reader."""
    from pypdf import PdfReader

    pages = [(p.extract_text() or "") for p in PdfReader(str(pdf)).pages]
    seen: dict[str, set[int]] = defaultdict(set)
    for i, t in enumerate(pages):
        for line in t.splitlines():
            n = norm(re.sub(r"\d+", "", line))
            if len(n) >= 12:
                seen[n].add(i)
    need = max(3, len(pages) // 2) if len(pages) >= 4 else len(pages) + 1
    return {n for n, s in seen.items() if len(s) >= need}


def load_questions(path: Path) -> list[dict]:
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            q = json.loads(line)
            missing = {"question", "paper", "page", "answer_sentence"} - set(q)
            if missing:
                raise ValueError(f"{path}:{i}: missing {sorted(missing)}")
            out.append(q)
    return out


def run(extractor: str, papers: Path, k: int = 5, multilingual: bool = False) -> dict:
    from agent.kb.service import KnowledgeBase
    from agent.settings import Settings

    questions = load_questions(papers / "questions.jsonl")
    expected = json.loads((papers / "papers.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="bioagent-pdf-eval-") as tmp:
        base = Settings()
        s = Settings(
            data_dir=Path(tmp), qdrant=base.qdrant.model_copy(update={"url": None}),
            embedding=base.embedding.model_copy(update={"multilingual": multilingual}),
            ingest=base.ingest.model_copy(update={"pdf_extractor": extractor}),
        )
        kb = KnowledgeBase(s)
        try:
            t0 = time.perf_counter()
            report = kb.ingest_paths([papers / f"{pid}.pdf" for pid in expected])
            ingest_s = time.perf_counter() - t0
            docs = {d.doc_id: d for d in kb.list_documents()}
            meta = {}
            for pid, exp in expected.items():
                d = docs.get(pid)
                meta[pid] = {
                    "title_ok": d is not None and norm(d.title) == norm(exp["title"]),
                    "doi_ok": d is not None and (d.doi or "").lower() == exp["doi"].lower(),
                    "year_ok": d is not None and d.year == exp.get("year"),
                    "title": d.title if d else None, "doi": d.doi if d else None, "year": d.year if d else None,
                }
            furniture = {pid: furniture_lines(papers / f"{pid}.pdf") for pid in expected}
            found, retrieved, hyphen, mark, rows = 0, 0, 0, 0, []
            for q in questions:
                hits = kb.search(q["question"], k=k)
                rank = next((i + 1 for i, h in enumerate(hits) if h.doc_id == q["paper"] and h.page == q["page"]
                             and holds(h.text, q["answer_sentence"])), None)
                found += rank is not None
                for h in hits:
                    retrieved += 1
                    hyphen += bool(SPLIT_HYPHEN_RE.search(h.text))
                    nt = norm(re.sub(r"\d+", "", h.text))
                    mark += bool(WATERMARK_RE.search(h.text)) or any(f in nt for f in furniture.get(h.doc_id, ()))
                rows.append({"question": q["question"], "paper": q["paper"], "page": q["page"], "rank": rank})
        finally:
            kb.close()
    return {
        "extractor": extractor, "questions": len(questions), "top_k": k, "found": found,
        "top_k_rate": found / len(questions) if questions else 0.0,
        "retrieved_chunks": retrieved, "split_hyphen_rate": hyphen / max(retrieved, 1),
        "furniture_rate": mark / max(retrieved, 1), "ingest_seconds": ingest_s,
        "chunks_written": report.chunks_written, "papers": meta, "per_question": rows,
        "multilingual": multilingual,
    }


def table(results: list[dict]) -> str:
    lines = ["| extractor | top-5 | split hyphen | furniture | titles ok | DOIs ok | ingest s | chunks |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        n = len(r["papers"])
        lines.append(
            f"| {r['extractor']} | {r['found']}/{r['questions']} = {r['top_k_rate']:.1%} | "
            f"{r['split_hyphen_rate']:.1%} | {r['furniture_rate']:.1%} | "
            f"{sum(m['title_ok'] for m in r['papers'].values())}/{n} | "
            f"{sum(m['doi_ok'] for m in r['papers'].values())}/{n} | {r['ingest_seconds']:.1f} | {r['chunks_written']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=Path, default=PAPERS)
    ap.add_argument("--extractor", choices=["layout", "pypdf", "both"], default="both")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--multilingual", action="store_true", help="Also build multilingual vectors (slow on CPU).")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    names = ["layout", "pypdf"] if a.extractor == "both" else [a.extractor]
    results = [run(n, a.papers, a.k, a.multilingual) for n in names]
    if a.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        print(table(results))
        for r in results:
            for pid, m in r["papers"].items():
                if not (m["title_ok"] and m["doi_ok"]):
                    print(f"{r['extractor']}: {pid}: title {m['title']!r}, doi {m['doi']!r}")
            missed = [q for q in r["per_question"] if q["rank"] is None]
            for q in missed:
                print(f"{r['extractor']}: missed p{q['page']} {q['paper']}: {q['question']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
