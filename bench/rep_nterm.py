"""Where does the HUH endonuclease domain start in real Reps? (sets splicing.MAX_NTERM; training split only)

    python bench/rep_nterm.py --cressent <CRESSENT git dir or checkout> [--per-family 40]

Takes up to N full-length training Reps per family (CRESSENT DB/reps; evaluation split and Reps filed under two
families left out; the first N by SHA-1 of the accession), calls them with the shipped profiles and prints the
distribution of the HUH domain's start (residues before it, for Reps that begin with M), overall and per family.
"""

from __future__ import annotations

import argparse
import collections
import hashlib

from mcp_servers.sequence.rep_call import call_reps
from mcp_servers.sequence.rep_data import load_cressent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cressent", required=True)
    ap.add_argument("--per-family", type=int, default=40)
    a = ap.parse_args(argv)
    by = collections.defaultdict(list)
    for p in load_cressent(a.cressent):
        if p.category == "cress_rep" and not p.evaluation and p.full_length and not p.ambiguous:
            by[p.family].append(p)
    sample = []
    for fam in sorted(by):
        sample += sorted(by[fam], key=lambda p: hashlib.sha1(p.accession.encode()).hexdigest())[:a.per_family]
    calls = call_reps([(p.accession, p.sequence) for p in sample], with_family=False)
    starts = collections.defaultdict(list)
    for p, c in zip(sample, calls):
        huh = next((d for d in c["domains"] if d["domain"].startswith("HUH")), None)
        if huh is not None and p.sequence.startswith("M"):
            starts[p.family].append(huh["start"])
    every = sorted(x for v in starts.values() for x in v)
    q = lambda f: every[int(f * (len(every) - 1))]  # noqa: E731
    print(f"{len(sample)} training Reps, {len(every)} with an HUH domain and a leading M")
    print(f"HUH start (residues before it): median {q(0.5)}, 90% {q(0.9)}, 95% {q(0.95)}, 99% {q(0.99)}, "
          f"max {every[-1]}\n")
    print("| family | n | median | max |\n|---|---|---|---|")
    for fam, v in sorted(starts.items()):
        v.sort()
        print(f"| {fam} | {len(v)} | {v[len(v) // 2]} | {v[-1]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
