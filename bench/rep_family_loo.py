"""How the family reference set is cleaned, chosen on the training split only (leave-one-out), never on evaluation.

    python bench/rep_family_loo.py --cressent /path/to/cressent [--json bench/results/rep_family_loo.json]

Every training full-length Rep is classified the way rep_family does it (nearest kept reference at >= the
identity level, else the best family profile at >= 60 bits, else unclassified) from the *other* training Reps that
a cleaning rule keeps, and scored against its raw CRESSENT label. Rules compared:

- none: every training Rep is a reference;
- conflict: rep_build.label_conflicts (near-identical copies mostly filed under other families) dropped;
- profile: a reference is kept only if its own family's profile is its best (shipped profiles);
- profile+conflict: both (what scripts/build_rep_profiles.py ships);
- enn3: Wilson editing, dropped when most of its 3 nearest other training Reps carry another family;
- profile&enn3: dropped only when both the profile rule and enn3 drop it.

The target of issue #13 is per family, so the rule is chosen by the mean per-family accuracy (families with >= 5
training Reps); overall accuracy is printed too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp_servers.sequence import rep_build, rep_family, rep_profiles  # noqa: E402
from mcp_servers.sequence.rep_data import load_cressent  # noqa: E402

CANDIDATES = 20
LEVELS = (0.3, 0.4, 0.5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cressent", type=Path, required=True)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    proteins = load_cressent(args.cressent)
    train = [p for fam in rep_build.training_reps(proteins).values() for p in fam]
    fam = [p.family for p in train]
    pool = [rep_family.Reference(str(i), p.family, None, p.sequence, rep_family._kmers(p.sequence))
            for i, p in enumerate(train)]
    near = [[(int(r.accession), ident) for r, ident in rep_family.nearest_all(p.sequence, pool, CANDIDATES)
             if r.accession != str(i)] for i, p in enumerate(train)]
    fam_hmms = [h for h in rep_profiles.shipped_profiles() if rep_profiles.text(h.name).startswith("FAM|")]
    prof = [next(((h.label, h.score) for h in hs if h.kind == "FAM"), (None, 0.0))
            for hs in rep_profiles.search([p.sequence for p in train], fam_hmms)]
    profiled = {rep_profiles.text(h.name).split("|", 1)[1] for h in fam_hmms}
    conflicts = rep_build.label_conflicts(train)
    keep_conflict = [p.accession not in conflicts for p in train]
    keep_profile = [b == f or f not in profiled for (b, _), f in zip(prof, fam)]
    keep_enn = [sum(fam[j] == f for j, _ in nb[:3]) * 2 >= min(3, len(nb)) for nb, f in zip(near, fam)]
    rules = {"none": [True] * len(train), "conflict": keep_conflict, "profile": keep_profile,
             "profile+conflict": [a and b for a, b in zip(keep_profile, keep_conflict)], "enn3": keep_enn,
             "profile&enn3": [a or b for a, b in zip(keep_profile, keep_enn)]}
    n = Counter(fam)
    big = sorted(f for f in n if n[f] >= 5)
    out = {}
    print("| rule | references dropped | identity level | accuracy | mean per-family accuracy | lowest families |")
    print("|---|---|---|---|---|---|")
    for name, keep in rules.items():
        for level in LEVELS:
            ok = Counter()
            for i, nb in enumerate(near):
                hit = next(((j, ident) for j, ident in nb if keep[j]), None)
                if hit and hit[1] >= level:
                    pred = fam[hit[0]]
                else:
                    pred = prof[i][0] if prof[i][1] >= rep_build.FIXED["family"] else None
                ok[fam[i]] += pred == fam[i]
            per = {f: ok[f] / n[f] for f in big}
            macro = sum(per.values()) / len(per)
            overall = sum(ok.values()) / len(train)
            low = ", ".join(f"{f} {v:.2f}" for f, v in sorted(per.items(), key=lambda kv: kv[1])[:3])
            out[f"{name}@{level}"] = {"dropped": keep.count(False), "accuracy": overall, "macro": macro, "per": per}
            print(f"| {name} | {keep.count(False)} | {level} | {overall:.3f} | {macro:.3f} | {low} |")
    print(f"\n{len(train)} training Reps, {len(big)} families with >= 5.")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
