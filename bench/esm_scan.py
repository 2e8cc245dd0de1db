"""Benchmark: full masked-marginal scan of PCV2 Rep (314 aa) with ESM-2 architectures (random weights).

Compares, in the same run and alternating which goes first, bioagent's batched scan
(`mcp_servers.sequence.scan.position_logprobs`: many masked copies per forward pass) with the straightforward
reference loop (one masked copy per forward pass, as facebookresearch/esm predict.py does it), checks that both give
the same scores (<= 1e-5), and reports the wt-marginal scan (one pass), peak memory and a cached re-run.

    python bench/esm_scan.py                                  # CPU, 8M architecture
    python bench/esm_scan.py --device cuda --arch 8M,650M     # GPU
    python bench/esm_scan.py --batch-sizes 1,2,4,8,16         # sweep the batched variant

Only torch, numpy and fair-esm are needed (no Biopython, no settings). Random weights time the same as trained ones.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcp_servers.sequence.esm_model import random_esm2, wrap_model  # noqa: E402
from mcp_servers.sequence.scan import (  # noqa: E402
    AA_ORDER,
    ScanCache,
    default_batch_size,
    full_scan,
    position_logprobs,
)

FASTA = ROOT / "tests" / "data" / "sequences" / "rep_proteins.faa"


def pcv2_rep() -> str:
    """NP_937956.1 (PCV2 Rep, 314 aa): the first record of the test FASTA, read without Biopython."""
    lines = FASTA.read_text().splitlines()
    assert lines[0].startswith(">NP_937956.1")
    seq = []
    for line in lines[1:]:
        if line.startswith(">"):
            break
        seq.append(line.strip())
    return "".join(seq)


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def reference_loop(lm, sequence: str):
    """One forward pass per masked position (predict.py's masked-marginals loop, over the residues)."""
    import numpy as np
    import torch

    tokens = lm.encode(sequence)
    aa = [lm.alphabet.get_idx(a) for a in AA_ORDER]
    lp20 = np.zeros((len(sequence), 20), dtype=np.float32)
    lpwt = np.zeros(len(sequence), dtype=np.float32)
    for i in range(len(sequence)):
        masked = tokens.clone()
        masked[0, i + 1] = lm.alphabet.mask_idx
        with torch.no_grad():
            token_probs = torch.log_softmax(lm.model(masked)["logits"], dim=-1)
        row = token_probs[0, i + 1].cpu().numpy()
        lp20[i] = row[aa]
        lpwt[i] = row[lm.alphabet.get_idx(sequence[i])]
    return lp20, lpwt


def timed(fn, device):
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    return out, dt, peak


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_arch(arch: str, device_name: str, repeats: int, batch_sizes: list[int] | None, seq: str,
               tf32: bool) -> dict:
    import numpy as np
    import torch

    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    model, alphabet = random_esm2(arch, seed=0)
    lm = wrap_model(model, alphabet, f"esm2_{arch}_random", device_name)
    device = lm.device
    T = len(seq) + 2
    default_bs = default_batch_size(lm, T)
    sizes = batch_sizes or [default_bs]
    rss0 = rss_mib()

    # warm-up (allocator, kernels)
    position_logprobs(lm, seq, "masked-marginals", list(range(min(8, len(seq)))), batch_size=max(sizes))
    reference_loop(lm, seq[:16])

    loop_times, batch_times = [], {b: [] for b in sizes}
    loop_peak = batch_peak = None
    ref = got = None
    for r in range(repeats):
        order = ["loop", "batched"] if r % 2 == 0 else ["batched", "loop"]
        for which in order:
            if which == "loop":
                ref, dt, peak = timed(lambda: reference_loop(lm, seq), device)
                loop_times.append(dt)
                loop_peak = peak
            else:
                for b in sizes:
                    got_b, dt, peak = timed(lambda: position_logprobs(lm, seq, "masked-marginals", batch_size=b),
                                            device)
                    batch_times[b].append(dt)
                    if b == sizes[0]:
                        got, batch_peak = got_b, peak
    ref_scores = ref[0] - ref[1][:, None]
    got_scores = got[0] - got[1][:, None]
    max_diff = float(np.abs(ref_scores - got_scores).max())

    (wt, wt_dt, wt_peak) = timed(lambda: position_logprobs(lm, seq, "wt-marginals"), device)

    cache_dir = Path(tempfile.mkdtemp(prefix="esm-scan-cache-"))
    cache = ScanCache(cache_dir)
    _, miss_dt, _ = timed(lambda: full_scan(lm, seq, "masked-marginals", batch_size=sizes[0], cache=cache), device)
    hit, hit_dt, _ = timed(lambda: full_scan(lm, seq, "masked-marginals", batch_size=sizes[0], cache=cache), device)
    disk, disk_dt, _ = timed(lambda: full_scan(lm, seq, "masked-marginals", cache=ScanCache(cache_dir)), device)
    cache_identical = bool(np.array_equal(hit.lp20, disk.lp20) and np.array_equal(hit.lpwt, disk.lpwt))

    loop_med = statistics.median(loop_times)
    result = {
        "arch": arch, "parameters": lm.num_params, "device": str(device), "tf32": tf32, "residues": len(seq),
        "repeats": repeats, "default_batch_size": default_bs,
        "loop_s": loop_times, "loop_median_s": loop_med, "loop_peak_gpu_mib": loop_peak,
        "batched": {str(b): {"times_s": t, "median_s": statistics.median(t), "speedup_vs_loop": loop_med /
                             statistics.median(t)} for b, t in batch_times.items()},
        "batched_peak_gpu_mib": batch_peak,
        "max_abs_score_diff_batched_vs_loop": max_diff,
        "wt_marginal_s": wt_dt, "wt_marginal_peak_gpu_mib": wt_peak,
        "cache_miss_scan_s": miss_dt, "cache_hit_memory_s": hit_dt, "cache_hit_disk_s": disk_dt,
        "cache_identical": cache_identical,
        "process_peak_rss_mib": rss_mib(), "rss_before_mib": rss0,
    }
    del lm, model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--arch", default="8M", help="comma-separated: tiny, 8M, 35M, 150M, 650M")
    ap.add_argument("--repeats", type=int, default=3, help="alternating rounds of loop and batched")
    ap.add_argument("--batch-sizes", default=None, help="comma-separated batch sizes (default: the per-device one)")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 matmuls on GPU (not bit-comparable to fp32)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    seq = pcv2_rep()
    sizes = [int(b) for b in args.batch_sizes.split(",")] if args.batch_sizes else None
    env = {"python": platform.python_version(), "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
           "machine": platform.machine(),
           "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    print(json.dumps(env))
    results = []
    for arch in args.arch.split(","):
        res = bench_arch(arch.strip(), args.device, args.repeats, sizes, seq, args.tf32)
        results.append(res)
        print(f"\n== ESM-2 {res['arch']} ({res['parameters'] / 1e6:.1f}M params, random weights) on {res['device']}, "
              f"PCV2 Rep {res['residues']} aa, {res['repeats']} alternating rounds, tf32={res['tf32']}")
        print(f"reference loop (1 masked copy/pass): median {res['loop_median_s']:.3f} s  "
              f"runs {[round(t, 3) for t in res['loop_s']]}  peak GPU {res['loop_peak_gpu_mib']} MiB")
        for b, r in res["batched"].items():
            print(f"batched, {b:>4} copies/pass:         median {r['median_s']:.3f} s  "
                  f"runs {[round(t, 3) for t in r['times_s']]}  speed-up x{r['speedup_vs_loop']:.2f}")
        print(f"batched peak GPU memory: {res['batched_peak_gpu_mib']} MiB; process peak RSS {res['process_peak_rss_mib']:.0f} MiB")
        print(f"max |score(batched) - score(loop)| = {res['max_abs_score_diff_batched_vs_loop']:.2e}")
        print(f"wt-marginal scan (1 pass): {res['wt_marginal_s']:.3f} s")
        print(f"cached re-run: miss {res['cache_miss_scan_s']:.3f} s, memory hit {res['cache_hit_memory_s'] * 1e3:.2f} ms, "
              f"disk hit {res['cache_hit_disk_s'] * 1e3:.2f} ms, identical={res['cache_identical']}")
    if args.out:
        Path(args.out).write_text(json.dumps({"env": env, "results": results}, indent=2))


if __name__ == "__main__":
    main()
