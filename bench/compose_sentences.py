"""Does the evidence composer pick the sentence that answers? Sample library questions with labelled answers.

    .venv/bin/python bench/compose_sentences.py [--data DIR]

For each English question of tests/data/kb/library_qrels.jsonl (its label is a span of the answering passage),
the library (examples/library) is searched as the agent does (k 6) and the composer's sentence ranking and
selection (agent.sentences.rank_sentences + select, 4 sentences) run on the hits. Counted over the questions
whose answer span is in the retrieved passages: the span is in a candidate sentence, in a chosen one, in the
first one, and the MRR of its sentence. Baselines in the same run: the former composers (each row adds one
change): sentences citing a paper dropped ("Kong et al. (2000) found ..."); sentences opening with a pronoun
dropped instead of joined to the sentence before ("Its active site lies ..."); relevance 0.65 cosine + 0.35 key
terms with no passage-rank prior.
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
from evals.pdf_eval import norm  # noqa: E402

QRELS = ROOT / "tests" / "data" / "kb" / "library_qrels.jsonl"
FORMER_REF_RE = re.compile(r"\bdoi\b|doi\.org|\bPMID\b|^\(?\d{4}[a-z]?\)|\bet al\.,? \(?\d{4}|\bvol\.|\bpp\.", re.I)


def measure(kb, questions, encode, prior: float) -> dict:
    n = cand = chosen = first = 0
    rr = 0.0
    for q in questions:
        passages = [(f"P{i}", h.text) for i, h in enumerate(kb.search(q["question"], k=6), 1)]
        spans = [norm(r["text"]) for r in q["relevant"]]
        holds = lambda s: any(sp and sp in norm(s) for sp in spans)  # noqa: E731
        if not any(holds(t) for _, t in passages):
            continue
        n += 1
        ranked = S.rank_sentences(q["question"], passages, encode, rank_prior=prior)
        rank = next((i + 1 for i, r in enumerate(ranked) if holds(r.text)), None)
        sel = S.select(ranked, 4)
        cand += rank is not None
        rr += 1 / rank if rank else 0.0
        chosen += any(holds(r.text) for r in sel)
        first += bool(sel) and holds(sel[0].text)
    return {"questions": n, "candidate": cand, "chosen": chosen, "first": first, "mrr": rr / max(n, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="data dir for the index (default: a temporary one)")
    a = ap.parse_args()
    questions = [q for q in map(json.loads, QRELS.open()) if q.get("lang", "en") == "en"]
    data = a.data or Path(tempfile.mkdtemp(prefix="bench-compose-"))
    kb = KnowledgeBase(settings_for(data, embedding={"multilingual": False}))
    if not kb.list_documents():
        kb.ingest_paths([ROOT / "examples" / "library"])
    encode = kb.embedder.encode_documents
    current = (S._REF_RE, S.whole_sentences, S.COSINE_WEIGHT)
    rows = []
    configs = [("sentences citing a paper dropped", FORMER_REF_RE, False, 0.65, 0.0),
               ("+ papers cited kept", current[0], False, 0.65, 0.0),
               ("+ pronoun sentences joined to the one before", current[0], True, 0.65, 0.0),
               ("+ relevance 0.5 cosine, passage-rank prior (current)", current[0], True, current[2], S.RANK_PRIOR)]
    for name, rx, join, weight, prior in configs:
        S._REF_RE, S.COSINE_WEIGHT = rx, weight
        S.whole_sentences = functools.partial(current[1], join_pronouns=join)
        m = measure(kb, questions, encode, prior)
        rows.append([name, m["questions"], m["candidate"], m["chosen"], m["first"], f"{m['mrr']:.3f}"])
    S._REF_RE, S.whole_sentences, S.COSINE_WEIGHT = current
    print(table(["composer", "answer retrieved", "answer a candidate", "chosen (of 4)", "first", "MRR"], rows))
    kb.close()


if __name__ == "__main__":
    main()
