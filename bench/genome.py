"""Benchmark genome and protein annotation against the regex annotator, in one run.

    .venv/bin/python bench/genome.py [--genomes 100] [--proteins 1000] [--seed 0] [--out bench/results/genome.json]

Inputs (real sequences, resampled to reach the counts; nothing synthetic beyond rotation and point substitutions):
- genomes: the 13 genomes in tests/data/sequences/genomes (9 CRESS genomes/components and satellites, 4 negatives:
  phiX174, a plasmid, two parvovirus sequences), each copy rotated to a random origin and given 1% random
  substitutions (so no two inputs are identical);
- proteins: the 17 Reps and 6 controls of tests/data/sequences plus the NCBI-annotated proteins of the genomes,
  each copy with 2% random substitutions.

Methods, each in its own fresh worker process (so peak RSS is the method's own):
- genomes, new: mcp_servers.sequence.genome.annotate_genome (pyrodigal-gv + ATG ORFs with circular wrap, profile-HMM
  Rep call, capsid phmmer, origin folding with ViennaRNA);
- genomes, baseline: the current regex path: parsing.find_orfs (10 longest ORFs, linear) + rep_motifs.annotate on
  each ORF;
- proteins, new: rep_call.call_reps (profile HMMs, batches of 500); baseline: rep_motifs.annotate one by one.
Reported: wall seconds, items/s, peak RSS of the worker (MB), and how often a Rep was called "yes" on CRESS genomes
with a Rep and on negatives (genomes), or on Reps and controls (proteins).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GENOMES = ROOT / "tests" / "data" / "sequences" / "genomes"
SEQS = ROOT / "tests" / "data" / "sequences"
# genome files and whether they encode a CRESS Rep (True), are CRESS components without Rep (None) or negatives
GENOME_FILES = {"NC_005148.1.gbk": True, "NC_013464.1.fna": True, "NC_004625.1.fna": True, "DQ178610.1.fna": True,
                "NC_010319.1.fna": True, "NC_023881.1.fna": True, "DQ178611.1.fna": None, "NC_010316.1.fna": None,
                "NC_010239.1.fna": None, "NC_001422.1.gbk": False, "pBAD30.gb": False, "AB000048.gb": False,
                "NC_001401.2.fna": False}


def _read_nt(name: str) -> str:
    from Bio import SeqIO

    fmt = "genbank" if name.endswith((".gb", ".gbk")) else "fasta"
    return str(SeqIO.read(GENOMES / name, fmt).seq).upper()


def _mutate(seq: str, rate: float, alphabet: str, rng: random.Random) -> str:
    s = list(seq)
    for i in rng.sample(range(len(s)), int(len(s) * rate)):
        s[i] = rng.choice([c for c in alphabet if c != s[i]])
    return "".join(s)


def genome_inputs(n: int, seed: int) -> list[tuple[str, str, bool | None]]:
    rng = random.Random(seed)
    base = [(name, _read_nt(name), kind) for name, kind in GENOME_FILES.items()]
    out = []
    for k in range(n):
        name, seq, kind = base[k % len(base)]
        r = rng.randrange(len(seq))
        out.append((f"{name}_{k}", _mutate(seq[r:] + seq[:r], 0.01, "ACGT", rng), kind))
    return out


def protein_inputs(n: int, seed: int) -> list[tuple[str, str, bool]]:
    from mcp_servers.sequence.parsing import read_proteins

    rng = random.Random(seed)
    base = [(p.id, p.sequence, True) for p in read_proteins((SEQS / "rep_proteins.faa").read_text())]
    base += [(p.id, p.sequence, False) for p in read_proteins((SEQS / "control_proteins.faa").read_text())]
    out = []
    for k in range(n):
        rid, seq, is_rep = base[k % len(base)]
        out.append((f"{rid}_{k}", _mutate(seq, 0.02, "ACDEFGHIKLMNPQRSTVWY", rng), is_rep))
    return out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def worker(method: str, n: int, seed: int) -> dict:
    """Run one method in this process; returns timing, memory and call counts."""
    if method.startswith("genomes"):
        items = genome_inputs(n, seed)
    else:
        items = protein_inputs(n, seed)
    hits = {"rep_yes": 0, "rep_total": 0, "neg_yes": 0, "neg_total": 0}
    before = _peak_mb()
    t0 = time.perf_counter()
    if method == "genomes-new":
        from mcp_servers.sequence.genome import annotate_genome

        for rid, seq, kind in items:
            rec = annotate_genome(f">{rid}\n{seq}\n", include_sequences=False)["records"][0]
            yes = any(g["role"] == "rep" and g["rep_call"]["call"] == "yes" for g in rec["genes"])
            _count(hits, kind, yes)
    elif method == "genomes-regex":
        from mcp_servers.sequence import rep_motifs
        from mcp_servers.sequence.parsing import find_orfs

        for rid, seq, kind in items:
            yes = any(rep_motifs.annotate(t.protein, t.id)["call"] == "yes" for t in find_orfs(seq, parent=rid))
            _count(hits, kind, yes)
    elif method == "proteins-new":
        from mcp_servers.sequence.rep_call import call_reps

        for i in range(0, len(items), 500):
            chunk = items[i:i + 500]
            for (_, _, is_rep), r in zip(chunk, call_reps([(rid, s) for rid, s, _ in chunk])):
                _count(hits, is_rep, r["call"] == "yes")
    elif method == "proteins-regex":
        from mcp_servers.sequence import rep_motifs

        for rid, seq, is_rep in items:
            _count(hits, is_rep, rep_motifs.annotate(seq, rid)["call"] == "yes")
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - t0
    return {"method": method, "n": len(items), "seconds": round(seconds, 2),
            "per_s": round(len(items) / seconds, 2), "peak_rss_mb": round(_peak_mb(), 1),
            "rss_before_mb": round(before, 1), **hits}


def _count(hits: dict, kind: bool | None, yes: bool) -> None:
    if kind is True:
        hits["rep_total"] += 1
        hits["rep_yes"] += yes
    elif kind is False:
        hits["neg_total"] += 1
        hits["neg_yes"] += yes


def run_worker(method: str, n: int, seed: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", method, "--n", str(n), "--seed", str(seed)],
                         capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genomes", type=int, default=100, help="genomes to annotate (full run: 1000)")
    ap.add_argument("--proteins", type=int, default=1000, help="proteins to annotate (full run: 10000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.seed)))
        return
    rows = [run_worker(m, args.genomes if m.startswith("genomes") else args.proteins, args.seed)
            for m in ("genomes-regex", "genomes-new", "proteins-regex", "proteins-new")]
    head = f"{'method':<16}{'n':>7}{'seconds':>10}{'items/s':>10}{'peak MB':>10}{'Rep yes on Reps':>18}{'yes on negatives':>18}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['method']:<16}{r['n']:>7}{r['seconds']:>10.1f}{r['per_s']:>10.2f}{r['peak_rss_mb']:>10.0f}"
              f"{r['rep_yes']:>11}/{r['rep_total']:<6}{r['neg_yes']:>11}/{r['neg_total']:<6}")
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
               "note": "shared 2-core machine: other jobs ran at the same time"}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": machine, "seed": args.seed, "rows": rows}, indent=1))
        print(f"results: {args.out}")


if __name__ == "__main__":
    main()
