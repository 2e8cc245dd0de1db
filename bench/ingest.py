"""Ingest throughput: the knowledge base's English path against raw ``SentenceTransformer.encode`` of the same
chunk texts, measured in the same run (target: >= 0.8x raw encode).

    .venv/bin/python bench/ingest.py                               # 1,000 PubMedQA abstracts + 100k synthetic
    .venv/bin/python bench/ingest.py --abstracts 200 --synthetic 20000 --encode-sample 1000

1. PubMedQA: the dev + test halves' contexts (1,000 abstracts): ``KnowledgeBase.ingest_records`` with the
   default settings (multilingual phase lazy, embedding cache on, fresh data dir and cache, model warm) against
   raw encode of the same chunk texts (same batch size); with ``--cli`` also ``bioagent ingest FILE.jsonl`` in
   a fresh process (model loading included).
   The multilingual phase (``bioagent kb multilingual``) is timed on its own on a sample of the passages.
2. Synthetic: N one-passage records (random words of a biomedical vocabulary). Encoding N chunks on a shared
   2-core machine takes hours, so this part measures, for all N chunks, the pipeline without the model's
   forward pass (chunking, BM25 weights, embedding-cache lookups, store writes, commit, optimise) by
   pre-filling the embedding cache with unit vectors for those texts, and raw encode on a sample of the same
   texts; the ratio raw / (raw + pipeline) is computed from those two measured rates and labelled so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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
from agent.kb.loaders import record_to_document  # noqa: E402
from bench.retrieval import settings_for, table  # noqa: E402

PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa"
VOCAB = ("virus replication protein capsid genome circular origin helicase endonuclease motif binding host "
         "infection strand sequence domain nick stem loop plant animal fungal pig bird vector transmission "
         "phylogeny species genus family recombination mutation residue catalytic tyrosine lysine walker "
         "assay expression cell tissue patient clinical outcome treatment cohort risk analysis significant").split()


def pubmedqa_jsonl(n: int, out: Path) -> list[Record]:
    recs: list[Record] = []
    for name in ("pqal_dev.jsonl", "pqal_test.jsonl"):
        for line in (PUBMEDQA / name).open():
            r = json.loads(line)
            recs.append(Record(id=f"pmid:{r['pubid']}", text=" ".join(r["contexts"]), pmid=r["pubid"], source="pubmedqa"))
    recs = recs[:n]
    out.write_text("".join(r.model_dump_json(exclude_none=True) + "\n" for r in recs))
    return recs


def synthetic(n: int, seed: int = 0) -> list[Record]:
    rng = np.random.default_rng(seed)
    words = rng.integers(0, len(VOCAB), size=(n, 60))
    return [Record(id=f"s{i}", text=" ".join(VOCAB[j] for j in row) + f" item {i}.") for i, row in enumerate(words)]


def raw_encode_rate(kb: KnowledgeBase, texts: list[str]) -> float:
    st, bs = kb.embedder.model, kb.settings.embedding.batch_size
    st.encode(texts[:bs], batch_size=bs)  # warm-up
    t0 = time.perf_counter()
    st.encode(texts, batch_size=bs, normalize_embeddings=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - t0)


def chunk_texts(kb: KnowledgeBase, records: list[Record]) -> list[str]:
    out = []
    for r in records:
        doc = record_to_document(r)
        out.extend(kb._embed_text(doc, c.text) for c in kb.chunker.chunk(doc))
    return out


def bench_pubmedqa(args, work: Path) -> list[list[str]]:
    path = work / "pubmedqa.jsonl"
    records = pubmedqa_jsonl(args.abstracts, path)
    kb = KnowledgeBase(settings_for(work / "kb", embedding={"cache_dir": work / "kb-cache"}))  # defaults
    texts = chunk_texts(kb, records)
    raw = raw_encode_rate(kb, texts)
    t0 = time.perf_counter()
    rep = kb.ingest_records(records)
    ours = rep.chunks_written / (time.perf_counter() - t0)
    kb.close()
    assert rep.chunks_written == len(texts), (rep.chunks_written, len(texts))
    rows = [
        [f"raw SentenceTransformer.encode ({len(texts)} chunks)", f"{raw:.1f}", "1.00x", f"{len(texts) / raw:.1f} s"],
        [f"KnowledgeBase.ingest_records, default settings ({args.abstracts} abstracts)", f"{ours:.1f}",
         f"{ours / raw:.2f}x", f"{rep.chunks_written / ours:.1f} s"],
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BIOAGENT_QDRANT__URL", None)
    if args.cli:
        env["BIOAGENT_DATA_DIR"] = str(work / "cli")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "agent.cli", "ingest", str(path), "--json"], env=env,
                              capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(f"bioagent ingest failed: {proc.stderr[-2000:]}")
        cli = json.loads(proc.stdout)
        rows.append([f"`bioagent ingest FILE.jsonl` (fresh process, {cli['chunks_written']} chunks)",
                     f"{cli['chunks_written'] / cli['seconds']:.1f}", f"{cli['chunks_written'] / cli['seconds'] / raw:.2f}x",
                     f"{cli['seconds']:.1f} s ingest (model loading included), {wall:.1f} s wall"])
    if args.multilingual_sample:
        sample = work / "ml.jsonl"
        sample.write_text("".join(r.model_dump_json(exclude_none=True) + "\n" for r in records[: args.multilingual_sample]))
        env["BIOAGENT_DATA_DIR"] = str(work / "ml")
        subprocess.run([sys.executable, "-m", "agent.cli", "ingest", str(sample), "--json"], env=env, capture_output=True,
                       check=True, cwd=ROOT)
        proc = subprocess.run([sys.executable, "-m", "agent.cli", "kb", "multilingual", "--json"], env=env,
                              capture_output=True, text=True, check=True, cwd=ROOT)
        ml = json.loads(proc.stdout)
        rows.append([f"bioagent kb multilingual (lazy phase, {ml['chunks']} chunks)",
                     f"{ml['chunks'] / max(ml['seconds'], 1e-9):.1f}", "(separate)", f"{ml['seconds']:.1f} s"])
    return rows


def bench_synthetic(args, work: Path) -> list[list[str]]:
    records = synthetic(args.synthetic)
    kb = KnowledgeBase(settings_for(work / "synth", embedding={"multilingual": False, "cache_dir": work / "synth-cache"}))
    texts = chunk_texts(kb, records)
    assert len(texts) == len(records), "each synthetic record must be one chunk"
    rng = np.random.default_rng(1)
    sample = [texts[i] for i in rng.choice(len(texts), size=min(args.encode_sample, len(texts)), replace=False)]
    raw = raw_encode_rate(kb, sample)
    from agent.kb.embeddings import text_hash

    vecs = rng.normal(size=(len(texts), kb.embedder.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    kb.cache.put_many(kb.embedder.model_id, {text_hash(t): v for t, v in zip(texts, vecs)})
    t0 = time.perf_counter()
    rep = kb.ingest_records(records)
    pipe_s = time.perf_counter() - t0
    kb.close()
    pipe = rep.chunks_written / pipe_s
    ratio = (1 / raw) / (1 / raw + 1 / pipe)
    return [
        [f"raw SentenceTransformer.encode (sample of {len(sample)})", f"{raw:.1f}", "1.00x", ""],
        [f"ingest pipeline without the model ({rep.chunks_written} chunks)", f"{pipe:.1f}", "",
         f"{pipe_s:.1f} s"],
        ["ingest incl. encode (computed from the two rates)", f"{1 / (1 / raw + 1 / pipe):.1f}", f"{ratio:.2f}x", ""],
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--abstracts", type=int, default=1000)
    ap.add_argument("--synthetic", type=int, default=100_000)
    ap.add_argument("--encode-sample", type=int, default=2000, help="synthetic texts raw-encoded for the rate")
    ap.add_argument("--multilingual-sample", type=int, default=50, help="abstracts for the multilingual phase (0: skip)")
    ap.add_argument("--cli", action="store_true", help="also time `bioagent ingest` in a fresh process")
    ap.add_argument("--only", choices=["pubmedqa", "synthetic"])
    ap.add_argument("--json", type=Path, help="also write the tables here")
    args = ap.parse_args()
    out = {}
    with tempfile.TemporaryDirectory(prefix="bioagent-bench-ingest-") as tmp:
        work = Path(tmp)
        if args.only in (None, "pubmedqa"):
            rows = bench_pubmedqa(args, work)
            out["pubmedqa"] = table(["PubMedQA ingest", "chunks/s", "vs raw", "time"], rows)
            print(out["pubmedqa"], flush=True)
        if args.only in (None, "synthetic") and args.synthetic:
            rows = bench_synthetic(args, work)
            out["synthetic"] = table([f"Synthetic, {args.synthetic} chunks", "chunks/s", "vs raw", "time"], rows)
            print(out["synthetic"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
