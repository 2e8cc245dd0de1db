"""Chinese questions against English abstracts: recall@k of the default search for this project's 40 Chinese
translations of PubMedQA dev questions (tests/data/kb/pubmedqa_zh_queries.jsonl) over all 500 dev abstracts,
against the English dense route alone (MiniLM) in the same run.

    .venv/bin/python bench/zh_recall.py --data /tmp/zh-bench      # resumable: the multilingual phase continues

The index is built with the default settings (multilingual phase lazy), then ``backfill_multilingual`` fills
the multilingual vectors with a progress bar; an interrupted run continues where it stopped when the same
``--data`` folder is given again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from agent.kb import KnowledgeBase  # noqa: E402
from bench.retrieval import PUBMEDQA, ZH, load_pubmedqa, settings_for, table  # noqa: E402
from evals.metrics import dedupe, recall_at_k, reciprocal_rank  # noqa: E402


def ranks(kb, q: str) -> list[str]:
    return dedupe(h.doc_id for h in kb.search(q, k=40))[:10]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="data dir (kept: reruns resume)")
    ap.add_argument("--pubmedqa", type=Path, default=PUBMEDQA)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--weights", type=float, nargs="*", default=[], help="also try these multilingual RRF weights")
    args = ap.parse_args()
    records, _ = load_pubmedqa(args.pubmedqa)
    zh = [json.loads(line) for line in ZH.open()]
    kb = KnowledgeBase(settings_for(args.data, embedding={"multilingual": True}))
    t0 = time.perf_counter()
    rep = kb.ingest_records(records)
    print(f"{len(records)} abstracts: {rep.chunks_written} chunks written, {len(rep.unchanged_docs)} unchanged, "
          f"{time.perf_counter() - t0:.0f} s; multilingual vectors missing: {kb.multilingual_pending()}", flush=True)
    ml = kb.backfill_multilingual(progress=True)
    print(f"multilingual phase: {ml.multilingual_chunks} chunks in {ml.multilingual_seconds:.0f} s", flush=True)
    rows, out = [], {}
    rs = kb.settings.retrieval
    variants = [("English dense route alone (MiniLM)", {}, lambda q: dedupe(h.doc_id for h in _dense_en(kb, q))[:10]),
                ("default search (multilingual weight 2 + BM25)", {}, None)]
    for w in args.weights:
        variants.append((f"multilingual weight {w:g} + BM25", {"multilingual_weight": w}, None))
    for name, changes, fn in variants:
        saved = {k: getattr(rs, k) for k in changes}
        for k, v in changes.items():
            setattr(rs, k, v)
        ranked = [(fn or (lambda q: ranks(kb, q)))(z["question_zh"]) for z in zh]
        for k, v in saved.items():
            setattr(rs, k, v)
        gold = [z["pubid"] for z in zh]
        m = {f"R@{k}": sum(recall_at_k(r, [g], k) for r, g in zip(ranked, gold)) / len(zh) for k in (1, 5, 10)}
        m["MRR"] = sum(reciprocal_rank(r, [g]) for r, g in zip(ranked, gold)) / len(zh)
        out[name] = m
        rows.append([name] + [f"{m[k]:.3f}" for k in ("R@1", "R@5", "R@10", "MRR")])
    print(table([f"{len(zh)} Chinese questions, {len(records)} English abstracts", "R@1", "R@5", "R@10", "MRR"], rows))
    kb.close()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


def _dense_en(kb, q: str):
    from agent.kb.store import DENSE, Route

    fused, _ = kb.store.query([Route(DENSE, kb.embedder.encode_query(q).tolist(), 40)], 40,
                              kb._store_filter(None), route_scores=False)
    from agent.kb.service import _hit

    return [_hit(s.id, s.payload, s.score, {}) for s in fused]


if __name__ == "__main__":
    main()
