"""Chinese questions against English abstracts: recall@k of each cross-lingual route and of the default search
for this project's 40 Chinese translations of PubMedQA dev questions (tests/data/kb/pubmedqa_zh_queries.jsonl)
over all 500 dev abstracts, in one run: the English dense route alone (MiniLM on the Chinese text, the floor),
multilingual-e5 alone, the gloss routes alone (MiniLM and BM25 on the English gloss of the question,
agent.kb.gloss), the default search without the gloss routes (the baseline: e5 + BM25) and with them.

``--split test`` measures the held-out half instead: 40 Chinese translations of PubMedQA TEST questions
(tests/data/kb/pubmedqa_zh_test_queries.jsonl) over all 500 test abstracts. The gloss dictionary and the route
weights were tuned on the dev set only; report the test half once.

    .venv/bin/python bench/zh_recall.py --data /tmp/zh-bench      # resumable: the multilingual phase continues
    .venv/bin/python bench/zh_recall.py --split test --data /tmp/zh-bench-test --json out.json
    .venv/bin/python bench/zh_recall.py --data /tmp/zh-bench --gloss-weights 0.5 2 --json out.json

The index is built with the default settings (multilingual phase lazy), then ``backfill_multilingual`` fills
the multilingual vectors with a progress bar; an interrupted run continues where it stopped when the same
``--data`` folder is given again. Also measured: latency per Chinese question (gloss alone and whole search,
with and without the gloss routes) and that the 40 English originals rank exactly as without the gloss routes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from agent.kb import KnowledgeBase  # noqa: E402
from agent.kb.store import DENSE, MDENSE, SPARSE, Route  # noqa: E402
from bench.retrieval import PUBMEDQA, ZH, load_pubmedqa, settings_for, table  # noqa: E402
from evals.metrics import dedupe, recall_at_k, reciprocal_rank  # noqa: E402

# split -> (PubMedQA half whose abstracts are indexed, Chinese questions over it)
SPLITS = {
    "dev": (PUBMEDQA, ZH),
    "test": (PUBMEDQA.with_name("pqal_test.jsonl"), ZH.with_name("pubmedqa_zh_test_queries.jsonl")),
}


def search_ranks(kb, q: str) -> list[str]:
    return dedupe(h.doc_id for h in kb.search(q, k=40))[:10]


def route_ranks(kb, routes: list[Route]) -> list[str]:
    if not routes:
        return []
    fused, _ = kb.store.query(routes, 40, kb._store_filter(None), rrf_k=kb.settings.retrieval.rrf_k, route_scores=False)
    return dedupe(p.payload.get("doc_id", "") for p in fused)[:10]


def scores(ranked: list[list[str]], gold: list[str]) -> dict[str, float]:
    m = {f"R@{k}": sum(recall_at_k(r, [g], k) for r, g in zip(ranked, gold)) / len(gold) for k in (1, 5, 10)}
    m["MRR"] = sum(reciprocal_rank(r, [g]) for r, g in zip(ranked, gold)) / len(gold)
    return m


def timed(fn, qs):
    """(results, per-question milliseconds)"""
    out, ms = [], []
    for q in qs:
        t0 = time.perf_counter()
        out.append(fn(q))
        ms.append((time.perf_counter() - t0) * 1000)
    return out, ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="data dir (kept: reruns resume)")
    ap.add_argument("--split", choices=sorted(SPLITS), default="dev",
                    help="dev: the questions the gloss route was tuned on; test: the held-out half")
    ap.add_argument("--pubmedqa", type=Path, help="PubMedQA JSONL to index (default: the --split half)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--gloss-weights", type=float, nargs="*", default=[], help="also try these gloss RRF weights")
    ap.add_argument("--ml-weights", type=float, nargs="*", default=[], help="also try these multilingual RRF weights")
    args = ap.parse_args()
    default_pubmedqa, zh_path = SPLITS[args.split]
    records, _ = load_pubmedqa(args.pubmedqa or default_pubmedqa)
    zh = [json.loads(line) for line in zh_path.open()]
    indexed = {r.id for r in records}
    missing = [z["pubid"] for z in zh if z["pubid"] not in indexed]
    if missing:
        sys.exit(f"{zh_path.name}: {len(missing)} pubids not among the indexed abstracts "
                 f"({args.pubmedqa or default_pubmedqa}), e.g. {missing[:3]}; wrong --split or --pubmedqa?")
    print(f"split {args.split}: {len(zh)} Chinese questions from {zh_path.name}, {len(records)} abstracts", flush=True)
    kb = KnowledgeBase(settings_for(args.data, embedding={"multilingual": True}))
    t0 = time.perf_counter()
    rep = kb.ingest_records(records)
    print(f"{len(records)} abstracts: {rep.chunks_written} chunks written, {len(rep.unchanged_docs)} unchanged, "
          f"{time.perf_counter() - t0:.0f} s; multilingual vectors missing: {kb.multilingual_pending()}", flush=True)
    ml = kb.backfill_multilingual(progress=True)
    print(f"multilingual phase: {ml.multilingual_chunks} chunks in {ml.multilingual_seconds:.0f} s", flush=True)

    from agent.kb.gloss import gloss_query, warm

    t0 = time.perf_counter()
    warm()
    load_s = time.perf_counter() - t0
    rs = kb.settings.retrieval
    pk = rs.prefetch_k
    qs = [z["question_zh"] for z in zh]
    gold = [z["pubid"] for z in zh]
    kb.search(qs[0], k=5)  # load the models once before anything is timed
    glosses, gloss_ms = timed(gloss_query, qs)

    def gloss_only(labels):
        return lambda q: route_ranks(kb, [r for r in kb._gloss_routes(q, "hybrid", pk) if r.label in labels])

    def with_settings(**changes):
        """Search with some settings changed for the call: retrieval fields by name, others as section__field."""
        def run(q):
            targets = [((kb.settings.embedding, k.split("__", 1)[1]) if k.startswith("embedding__") else (rs, k), v)
                       for k, v in changes.items()]
            saved = [(obj, k, getattr(obj, k)) for (obj, k), _ in targets]
            for (obj, k), v in targets:
                setattr(obj, k, v)
            try:
                return search_ranks(kb, q)
            finally:
                for obj, k, v in saved:
                    setattr(obj, k, v)
        return run

    variants = [
        ("English dense alone (MiniLM on the Chinese text)",
         lambda q: route_ranks(kb, [Route(DENSE, kb.embedder.encode_query(q).tolist(), pk)])),
        ("multilingual-e5 alone", lambda q: route_ranks(kb, [Route(MDENSE, kb.multilingual.encode_query(q).tolist(), pk)])),
        ("gloss: MiniLM on the English gloss alone", gloss_only({"gloss_dense"})),
        ("gloss: BM25 on the English gloss alone", gloss_only({"gloss_sparse"})),
        ("gloss: MiniLM + BM25 on the gloss (RRF)", gloss_only({"gloss_dense", "gloss_sparse"})),
        ("baseline: e5 (w 2) + BM25, gloss off", with_settings(cross_lingual_gloss=False)),
        (f"default: e5 (w 2) + BM25 + gloss routes (w {rs.gloss_weight:g})", with_settings()),
    ]
    for w in args.gloss_weights:
        variants.append((f"e5 (w 2) + BM25 + gloss routes (w {w:g})", with_settings(gloss_weight=w)))
    for w in args.ml_weights:
        variants.append((f"e5 (w {w:g}) + BM25 + gloss routes (w {rs.gloss_weight:g})", with_settings(multilingual_weight=w)))
    variants.append(("multilingual off: BM25 + gloss routes (MiniLM on the Chinese text left out)",
                     with_settings(embedding__multilingual=False)))
    rows, out = [], {"split": args.split, "queries": zh_path.name, "gloss_dictionary_load_s": round(load_s, 2),
                     "gloss_ms_per_question": round(statistics.mean(gloss_ms), 2), "routes": {}}
    latency = {}
    for name, fn in variants:
        ranked, ms = timed(fn, qs)
        m = scores(ranked, gold)
        m["mean_ms"] = statistics.mean(ms)
        out["routes"][name] = {k: round(v, 4) for k, v in m.items()}
        latency[name] = ms
        rows.append([name] + [f"{m[k]:.3f}" for k in ("R@1", "R@5", "R@10", "MRR")] + [f"{m['mean_ms']:.0f}"])
    print(table([f"{len(zh)} Chinese questions, {len(records)} English abstracts", "R@1", "R@5", "R@10", "MRR",
                 "ms/question"], rows))
    print(f"gloss dictionary load (once per process): {load_s:.1f} s; glossing: "
          f"{statistics.mean(gloss_ms):.1f} ms/question")

    # Latency of the default search with and without the gloss routes, interleaved question by question so
    # that both see the same machine load (the ms/question column above ran one variant after another).
    on_ms, off_ms = [], []
    no_gloss = with_settings(cross_lingual_gloss=False)
    for q in qs:
        for fn, acc in ((lambda x: search_ranks(kb, x), on_ms), (no_gloss, off_ms)):
            t0 = time.perf_counter()
            fn(q)
            acc.append((time.perf_counter() - t0) * 1000)
    lat = {"gloss_on_median_ms": round(statistics.median(on_ms), 1), "gloss_off_median_ms": round(statistics.median(off_ms), 1)}
    print(f"default search per Chinese question, interleaved: median {lat['gloss_on_median_ms']:.0f} ms with the "
          f"gloss routes, {lat['gloss_off_median_ms']:.0f} ms without (load average {os.getloadavg()[0]:.1f})")
    out["latency"] = lat

    # English questions never take the gloss route: no hit carries a gloss score, and the rankings match those
    # with the setting off (as often as a second identical run matches the first: RRF ties may flip order).
    en = [z["question_en"] for z in zh]
    hits = [kb.search(q, k=40) for q in en]
    on = [dedupe(h.doc_id for h in hs)[:10] for hs in hits]
    gloss_hits = sum(any(k.startswith("gloss") for k in h.scores) for hs in hits for h in hs)
    off = [no_gloss(q) for q in en]
    again = [search_ranks(kb, q) for q in en]
    same, control = sum(a == b for a, b in zip(on, off)), sum(a == b for a, b in zip(on, again))
    en_m = scores(on, gold)
    print(f"English originals: {gloss_hits} hits with a gloss score; top-10 documents identical with the gloss "
          f"setting off for {same}/{len(en)} (a repeat of the same search: {control}/{len(en)}); "
          f"R@1 {en_m['R@1']:.3f}, R@5 {en_m['R@5']:.3f}")
    out["english_gloss_hits"] = gloss_hits
    out["english_identical"] = f"{same}/{len(en)} (repeat: {control}/{len(en)})"
    out["english"] = {k: round(v, 4) for k, v in en_m.items()}
    misses = [(z["pubid"], z["question_en"]) for z, r in zip(zh, [search_ranks(kb, q) for q in qs]) if z["pubid"] not in r[:5]]
    print(f"default search misses at 5: {len(misses)}")
    for pid, q in misses:
        print(f"  {pid}  {q}")
    kb.close()
    if args.json:
        out["load_average"] = os.getloadavg()[0]
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
