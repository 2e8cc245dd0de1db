"""How the family reference set is cleaned, chosen on the training split only (leave-one-out), never on evaluation.

    python bench/rep_family_loo.py --cressent /path/to/cressent [--json bench/results/rep_family_loo.json]

Every training full-length Rep is classified the way rep_family does it (nearest kept reference at >= the
identity level, else the best family profile at >= 60 bits, else unclassified) from the *other* training Reps that
a cleaning rule keeps, and scored against its raw CRESSENT label (and, in the last column, against the ICTV family on
the training Reps whose virus name the ICTV VMR names: bench/rep_ictv.py). Rules compared:

- none: every training Rep is a reference;
- conflict: rep_build.label_conflicts (near-identical copies mostly filed under other families) dropped;
- profile: a reference is kept only if its own family's profile is its best (shipped profiles);
- profile+conflict: both (what scripts/build_rep_profiles.py ships);
- enn3: Wilson editing, dropped when most of its 3 nearest other training Reps carry another family;
- profile&enn3: dropped only when both the profile rule and enn3 drop it;
- margin40+conflict: the profile rule with a 40-bit margin (dropped only when another family's profile beats its own
  by more than 40 bits: small families' narrow profiles are not on the same bit scale as the big ones);
- genus+conflict: the profile rule, except that a reference whose virus name states an ICTV genus (not "<genus>
  sp.") is kept (two sources agree on the family: CRESSENT's file and the name);
- ictv+conflict: the profile rule, except that a reference whose virus name the ICTV VMR gives to one species of
  its CRESSENT family (bench/rep_ictv.py: exact name, no placeholders or common names) is kept: two independent
  sources agree on the family;
- copy95: profile+conflict references, but a nearest training Rep (any, cleaned or not) at >= 95 % identity decides
  (a near-copy's label trusted over the cleaning).

Decisions (on every rule): `nn` = the nearest kept reference (what rep_family ships); `knn` = identity-weighted vote
of the kept references among the 5 nearest that are within 0.05 of the best; `tie` = when the best references of
two families are within rep_family.CLOSE_MARGIN, the higher family profile of the close families decides.

The target of issue #13 is per family, so the rule is chosen by the mean per-family accuracy (families with >= 5
training Reps); overall accuracy is printed too.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.rep_ictv import label_proteins, name_index, read_vmr  # noqa: E402
from mcp_servers.sequence import rep_build, rep_family, rep_profiles  # noqa: E402
from mcp_servers.sequence.rep_data import load_cressent  # noqa: E402

CANDIDATES = 20
LEVELS = (0.3, 0.4, 0.5)
MARGIN_BITS = 40.0
COPY = 0.95
KNN, KNN_WINDOW = 5, 0.05
SPECIES_PLACEHOLDER = re.compile(r"\bsp\.")


def decide(nb, keep, fam, prof, level, how="nn", trust=None):
    """Family of one training Rep from its neighbours nb [(index, identity)] (itself excluded) and its family
    profile scores prof {family: bits}; None = unclassified."""
    if trust is not None and nb and nb[0][1] >= trust:
        return fam[nb[0][0]]
    kept = [(j, ident) for j, ident in nb if keep[j]]
    if kept and kept[0][1] >= level:
        if how == "knn":
            votes = Counter()
            for j, ident in kept[:KNN]:
                if ident >= kept[0][1] - KNN_WINDOW:
                    votes[fam[j]] += ident
            return votes.most_common(1)[0][0]
        if how == "tie":
            best = {}
            for j, ident in kept:
                best.setdefault(fam[j], ident)
            close = [f for f, ident in best.items() if kept[0][1] - ident < rep_family.CLOSE_MARGIN]
            if len(close) > 1:
                return max(close, key=lambda f: prof.get(f, 0.0))
        return fam[kept[0][0]]
    top = max(prof.items(), key=lambda kv: kv[1], default=(None, 0.0))
    return top[0] if top[1] >= rep_build.FIXED["family"] else None


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
    prof = [{} for _ in train]
    for d, hs in zip(prof, rep_profiles.search([p.sequence for p in train], fam_hmms)):
        for h in hs:
            if h.kind == "FAM":
                d.setdefault(h.label, h.score)
    profiled = {rep_profiles.text(h.name).split("|", 1)[1] for h in fam_hmms}

    def own_gap(d, f):  # how far the best family profile is above the Rep's own family's profile
        if f not in profiled:
            return 0.0
        return max(d.values()) - d.get(f, 0.0) if d else float("inf")

    conflicts = rep_build.label_conflicts(train)
    keep_conflict = [p.accession not in conflicts for p in train]
    keep_profile = [own_gap(d, f) <= 0 for d, f in zip(prof, fam)]
    keep_margin = [own_gap(d, f) <= MARGIN_BITS for d, f in zip(prof, fam)]
    named = [p.genus is not None and not SPECIES_PLACEHOLDER.search(p.virus) for p in train]
    ictv = label_proteins(train, name_index(read_vmr()))
    confirmed = [p.accession in ictv and ictv[p.accession].family == p.family for p in train]
    keep_enn = [sum(fam[j] == f for j, _ in nb[:3]) * 2 >= min(3, len(nb)) for nb, f in zip(near, fam)]
    both = [a and b for a, b in zip(keep_profile, keep_conflict)]
    rules = {"none": ([True] * len(train), None), "conflict": (keep_conflict, None), "profile": (keep_profile, None),
             "profile+conflict": (both, None), "enn3": (keep_enn, None),
             "profile&enn3": ([a or b for a, b in zip(keep_profile, keep_enn)], None),
             "margin40+conflict": ([a and b for a, b in zip(keep_margin, keep_conflict)], None),
             "genus+conflict": ([(a or g) and b for a, b, g in zip(keep_profile, keep_conflict, named)], None),
             "ictv+conflict": ([(a or c) and b for a, b, c in zip(keep_profile, keep_conflict, confirmed)], None),
             "copy95": (both, COPY)}
    n = Counter(fam)
    big = sorted(f for f in n if n[f] >= 5)
    out = {}
    print("| rule | decision | references dropped | identity level | accuracy | mean per-family accuracy | "
          "Circoviridae | lowest families | ICTV-named: accuracy (n), lowest families |")
    print("|---|---|---|---|---|---|---|---|---|")
    n_ictv = Counter(lab.family for lab in ictv.values())
    ictv_idx = [i for i, p in enumerate(train) if p.accession in ictv]
    for name, (keep, trust) in rules.items():
        for how in ("nn", "knn", "tie"):
            for level in LEVELS if how == "nn" else (0.4,):
                ok = Counter()
                for i, nb in enumerate(near):
                    ok[fam[i]] += decide(nb, keep, fam, prof[i], level, how, trust) == fam[i]
                per = {f: ok[f] / n[f] for f in big}
                macro = sum(per.values()) / len(per)
                overall = sum(ok.values()) / len(train)
                low = ", ".join(f"{f} {v:.2f}" for f, v in sorted(per.items(), key=lambda kv: kv[1])[:3])
                ok_ictv = Counter()
                for i in ictv_idx:
                    f = ictv[train[i].accession].family
                    ok_ictv[f] += decide(near[i], keep, fam, prof[i], level, how, trust) == f
                per_ictv = {f: ok_ictv[f] / n_ictv[f] for f in sorted(n_ictv)}
                low_ictv = ", ".join(f"{f} {v:.2f}" for f, v in sorted(per_ictv.items(), key=lambda kv: kv[1])[:3])
                key = f"{name}@{level}" + ("" if how == "nn" else f"/{how}")
                out[key] = {"dropped": keep.count(False), "accuracy": overall, "macro": macro, "per": per,
                            "ictv": {"n": dict(n_ictv), "per": per_ictv}}
                print(f"| {name} | {how} | {keep.count(False)} | {level} | {overall:.3f} | {macro:.3f} | "
                      f"{per['Circoviridae']:.3f} | {low} | {sum(ok_ictv.values()) / len(ictv_idx):.3f} "
                      f"({len(ictv_idx)}), {low_ictv} |")
    print(f"\n{len(train)} training Reps, {len(big)} families with >= 5; ICTV-named training Reps per family: "
          f"{dict(n_ictv.most_common())}.")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
