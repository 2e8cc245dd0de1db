"""Does the evidence composer pick the sentence that answers? Sample library questions with labelled answers.

    .venv/bin/python bench/compose_sentences.py [--data DIR] [--pdf]

For each English question of tests/data/kb/library_qrels.jsonl (its label is a span of the answering passage),
the library (examples/library) is searched as the agent does (k 6) and the composer's sentence ranking and
selection (agent.sentences.rank_sentences + select, 4 sentences) run on the hits. ``--pdf`` also runs the 64
questions of tests/data/papers (the PDF eval's papers, ingested with the layout reader; the label is the answer
sentence or table row, held by a unit when it holds 60 % of it, evals.pdf_eval.holds). Counted over the questions
whose answer span is in the retrieved passages: the span is in a candidate sentence, in a chosen one, in the
first one, and the MRR of its sentence. Baselines in the same run: the former composers (each row adds one
change): sentences citing a paper dropped ("Kong et al. (2000) found ..."); sentences opening with a pronoun
dropped instead of joined to the sentence before ("Its active site lies ..."); relevance 0.65 cosine + 0.35 key
terms with no passage-rank prior; no table rows; key terms unweighted with 0.5 cosine.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import agent.sentences as S  # noqa: E402
from agent.kb import KnowledgeBase  # noqa: E402
from bench.retrieval import settings_for, table  # noqa: E402
from evals.pdf_eval import PAPERS, holds, load_questions, norm  # noqa: E402

QRELS = ROOT / "tests" / "data" / "kb" / "library_qrels.jsonl"
FORMER_REF_RE = re.compile(r"\bdoi\b|doi\.org|\bPMID\b|^\(?\d{4}[a-z]?\)|\bet al\.,? \(?\d{4}|\bvol\.|\bpp\.", re.I)
HEADERS = ["composer", "answer retrieved", "answer a candidate", "chosen (of 4)", "first", "MRR"]


def library_set(data: Path) -> tuple[KnowledgeBase, list[tuple[str, object]]]:
    kb = KnowledgeBase(settings_for(data, embedding={"multilingual": False}))
    if not kb.list_documents():
        kb.ingest_paths([ROOT / "examples" / "library"])
    qs = [q for q in map(json.loads, QRELS.open()) if q.get("lang", "en") == "en"]

    def answers(spans: list[str]):
        return lambda s: any(x and x in norm(s) for x in spans)

    return kb, [(q["question"], answers([norm(r["text"]) for r in q["relevant"]])) for q in qs]


def pdf_set(data: Path) -> tuple[KnowledgeBase, list[tuple[str, object]]]:
    kb = KnowledgeBase(settings_for(data, embedding={"multilingual": False}, ingest={"pdf_extractor": "layout"}))
    if not kb.list_documents():
        expected = json.loads((PAPERS / "papers.json").read_text(encoding="utf-8"))
        kb.ingest_paths([PAPERS / f"{pid}.pdf" for pid in expected])
    qs = load_questions(PAPERS / "questions.jsonl")

    def answers(a: str):  # the unit holds 60 % of the answer, or is a long piece of it
        return lambda s: holds(s, a, 0.6) or (len(norm(s)) >= 40 and norm(s) in norm(a))

    return kb, [(q["question"], answers(q["answer_sentence"])) for q in qs]


def measure(kb, questions, encode, prior: float) -> dict:
    n = cand = chosen = first = 0
    rr = 0.0
    for question, is_answer in questions:
        passages = [(f"P{i}", h.text) for i, h in enumerate(kb.search(question, k=6), 1)]
        units = [u for _, t in passages for u in [t, *S.whole_sentences(t), *S.table_rows(t)]]
        if not any(is_answer(u) for u in units):
            continue
        n += 1
        ranked = S.rank_sentences(question, passages, encode, rank_prior=prior)
        rank = next((i + 1 for i, r in enumerate(ranked) if is_answer(r.text)), None)
        sel = S.select(ranked, 4)
        cand += rank is not None
        rr += 1 / rank if rank else 0.0
        chosen += any(is_answer(r.text) for r in sel)
        first += bool(sel) and is_answer(sel[0].text)
    return {"questions": n, "candidate": cand, "chosen": chosen, "first": first, "mrr": rr / max(n, 1)}


def compare(kb, questions) -> str:
    encode = kb.embedder.encode_documents
    current = (S._REF_RE, S.whole_sentences, S.COSINE_WEIGHT, S.table_rows, S.term_weights)
    configs = [("sentences citing a paper dropped", FORMER_REF_RE, False, 0.65, 0.0, False, 0.0),
               ("+ papers cited kept", current[0], False, 0.65, 0.0, False, 0.0),
               ("+ pronoun sentences joined to the one before", current[0], True, 0.65, 0.0, False, 0.0),
               ("+ relevance 0.5 cosine, passage-rank prior", current[0], True, 0.5, S.RANK_PRIOR, False, 0.0),
               ("+ table rows", current[0], True, 0.5, S.RANK_PRIOR, True, 0.0),
               ("+ rare key terms weighted, 0.4 cosine (current)", current[0], True, current[2], S.RANK_PRIOR, True,
                S.TERM_IDF_POWER)]
    rows = []
    try:
        for name, rx, join, weight, prior, tables, power in configs:
            S._REF_RE, S.COSINE_WEIGHT = rx, weight
            S.whole_sentences = functools.partial(current[1], join_pronouns=join)
            S.table_rows = current[3] if tables else (lambda text: [])
            S.term_weights = functools.partial(current[4], power=power)
            m = measure(kb, questions, encode, prior)
            rows.append([name, m["questions"], m["candidate"], m["chosen"], m["first"], f"{m['mrr']:.3f}"])
    finally:
        S._REF_RE, S.whole_sentences, S.COSINE_WEIGHT, S.table_rows, S.term_weights = current
    return table(HEADERS, rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="data dir for the indexes (default: a temporary one)")
    ap.add_argument("--pdf", action="store_true", help="also the PDF eval's papers and questions")
    a = ap.parse_args()
    data = a.data or Path(tempfile.mkdtemp(prefix="bench-compose-"))
    sets = [("sample library, English questions", library_set, "library")]
    if a.pdf:
        sets.append(("PDF papers (tests/data/papers)", pdf_set, "pdf"))
    for title, make, sub in sets:
        kb, questions = make(data / sub)
        try:
            print(f"{title}\n{compare(kb, questions)}\n")
        finally:
            kb.close()


if __name__ == "__main__":
    main()
