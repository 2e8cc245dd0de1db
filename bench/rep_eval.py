"""Rep call and family classification on the evaluation split of issue #13, against the old motif-regex annotator.

    python bench/rep_eval.py --cressent /path/to/cressent [--cv] [--json bench/results/rep_eval.json]

Evaluation split = rep_split.in_evaluation_split (SHA-1 of the bare accession starts with 0-3); nothing shipped was
built from it. Prints, for the new profile call (rep_call) and the old motif chain (rep_motifs) in the same run:
per-family recall of `yes` on full-length Reps (250-600 aa), call rates on every negative class, family accuracy,
and (--cv) family-held-out cross-validation: each family's training Reps are removed, the profiles and references
rebuilt, and that family's evaluation Reps called again.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp_servers.sequence import rep_build, rep_call, rep_family, rep_motifs, rep_profiles  # noqa: E402
from mcp_servers.sequence.rep_data import Protein, load_cressent, read_fasta_text  # noqa: E402
from mcp_servers.sequence.rep_split import in_evaluation_split  # noqa: E402

from bench.rep_ictv import (ISOLATE_REPS, VMR_FILE, IctvLabel, NameCheck, check_labels, label_proteins,  # noqa: E402
                            name_index, read_isolate_reps, read_vmr)
from bench.rep_label_audit import AUDIT_FILE, read_audit  # noqa: E402

HARD_NEGATIVES = ROOT / "tests" / "data" / "sequences" / "rep_hard_negatives.faa"
MIN_EVAL = 5


def _rate(calls: list[str], value: str) -> float:
    return sum(c == value for c in calls) / len(calls) if calls else float("nan")


def _dist(calls: list[str]) -> str:
    c = Counter(calls)
    return ", ".join(f"{k} {c[k]}" for k in ("yes", "partial", "huh_only", "no") if c[k])


def _near(res: dict) -> float | None:
    f = res["family"]
    return f["nearest"]["identity"] if f and f.get("nearest") else None


def _named(p: Protein) -> bool:
    """The virus name states an ICTV genus ("Canine circovirus"; not a placeholder such as "Circovirus sp.")."""
    return p.genus is not None and " sp." not in p.virus


def _ictv_accuracy(ev: list[Protein], new: list[dict], idx: list[int], ictv: dict[str, IctvLabel]) -> dict:
    """Family accuracy on the Reps with an ICTV label (bench/rep_ictv.py), grouped by the ICTV family."""
    by: dict[str, list[int]] = defaultdict(list)
    for i in idx:
        if ev[i].accession in ictv:
            by[ictv[ev[i].accession].family].append(i)
    out = {}
    for fam in sorted(by):
        pred = {i: (new[i]["family"] or {}).get("name") for i in by[fam]}
        out[fam] = {"n": len(by[fam]), "accuracy": sum(pred[i] == fam for i in by[fam]) / len(by[fam]),
                    "misses": {ev[i].accession: {"predicted": pred[i], "cressent_label": ev[i].family,
                                                 "virus": ev[i].virus, "ictv_species": ictv[ev[i].accession].species,
                                                 "nearest": (new[i]["family"] or {}).get("nearest"),
                                                 "runner_up": ((new[i]["family"] or {}).get("runner_up")
                                                               or {}).get("family")}
                               for i in by[fam] if pred[i] != fam}}
    return out


def _pooled(by_family: dict) -> dict:
    n = sum(r["n"] for r in by_family.values())
    return {"n": n, "accuracy": sum(r["n"] * r["accuracy"] for r in by_family.values()) / n if n else None}


def evaluate(proteins: list[Protein], audit: dict[str, set[str]] | None = None,
             ictv: dict[str, IctvLabel] | None = None, checks: dict[str, NameCheck] | None = None) -> dict:
    """Calls on the evaluation split. Family accuracy against the raw CRESSENT label (the first file that lists the
    accession), against the label audit (bench/rep_label_audit.py: accepted families per audited record) and, on the
    Reps whose virus name the ICTV VMR lists, against the ICTV family (bench/rep_ictv.py), on all of them and on those
    whose name label the species' isolate Reps do not reject (`checks`, bench/rep_ictv.check_labels)."""
    audit, ictv, checks = audit or {}, ictv or {}, checks or {}
    ev = [p for p in proteins if p.evaluation]
    t0 = time.perf_counter()
    new = rep_call.call_reps([(p.accession, p.sequence) for p in ev])
    t_new = time.perf_counter() - t0
    t0 = time.perf_counter()
    old = [rep_motifs.annotate(p.sequence, p.accession)["call"] for p in ev]
    t_old = time.perf_counter() - t0
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(ev):
        if p.category == "cress_rep" and p.full_length:
            groups[f"rep:{p.family}"].append(i)
        elif p.category == "phage_rep":
            groups[f"neg:phage Rep ({p.family})"].append(i)
        else:
            groups[f"other:{p.category}"].append(i)
    fams = {}
    for key in sorted(k for k in groups if k.startswith("rep:")):
        idx = groups[key]
        fam = key[4:]
        named = [new[i]["family"]["name"] if new[i]["family"] else None for i in idx]
        ok_audit = [n in audit.get(ev[i].accession, {fam}) for i, n in zip(idx, named)]
        by_name = [(n == fam) for i, n in zip(idx, named) if _named(ev[i])]
        fams[fam] = {"n": len(idx), "recall_yes": _rate([new[i]["call"] for i in idx], "yes"),
                     "recall_yes_old": _rate([old[i] for i in idx], "yes"),
                     "family_accuracy": sum(n == fam for n in named) / len(idx),
                     "family_accuracy_audited": sum(ok_audit) / len(idx),
                     "audited_records": sum(ev[i].accession in audit for i in idx),
                     "named_genus": {"n": len(by_name), "accuracy": sum(by_name) / len(by_name) if by_name else None},
                     "family_misses": {ev[i].accession: {"predicted": n, "nearest_identity": _near(new[i]),
                                                         "accepted_by_audit": ok, "virus": ev[i].virus,
                                                         "close_call": bool((new[i]["family"] or {}).get("close_call")),
                                                         "runner_up": ((new[i]["family"] or {}).get("runner_up")
                                                                       or {}).get("family")}
                                       for i, n, ok in zip(idx, named, ok_audit) if n != fam},
                     "calls": _dist([new[i]["call"] for i in idx]), "calls_old": _dist([old[i] for i in idx]),
                     "misses": [ev[i].accession for i in idx if new[i]["call"] != "yes"][:8]}
    others = {}
    for key in sorted(k for k in groups if not k.startswith("rep:")):
        idx = groups[key]
        others[key.split(":", 1)[1]] = {"n": len(idx), "yes": _rate([new[i]["call"] for i in idx], "yes"),
                                        "yes_old": _rate([old[i] for i in idx], "yes"),
                                        "calls": _dist([new[i]["call"] for i in idx]),
                                        "calls_old": _dist([old[i] for i in idx]),
                                        "false_yes": [ev[i].accession for i in idx if new[i]["call"] == "yes"][:8]}
    all_pos = [i for k, v in groups.items() if k.startswith("rep:") for i in v]
    by_ictv = _ictv_accuracy(ev, new, all_pos, ictv)
    kept = {a: lab for a, lab in ictv.items() if a not in checks or checks[a].status != "rejected"}
    by_checked = _ictv_accuracy(ev, new, all_pos, kept)
    rejected = {p.accession: {"ictv_family": ictv[p.accession].family, "species": ictv[p.accession].species,
                              "identity": checks[p.accession].identity, "isolate_rep": checks[p.accession].isolate_rep,
                              "predicted": (new[i]["family"] or {}).get("name"), "virus": p.virus}
                for i, p in ((i, ev[i]) for i in all_pos) if p.accession in ictv and p.accession not in kept}
    return {"families": fams, "others": others, "ictv": by_ictv, "ictv_checked": by_checked,
            "ictv_rejected": rejected,
            "overall": {"n": len(all_pos), "recall_yes": _rate([new[i]["call"] for i in all_pos], "yes"),
                        "recall_yes_old": _rate([old[i] for i in all_pos], "yes"),
                        "family_accuracy": sum((new[i]["family"] or {}).get("name") == ev[i].family
                                               for i in all_pos) / len(all_pos),
                        "family_accuracy_audited": sum((new[i]["family"] or {}).get("name") in audit.get(
                            ev[i].accession, {ev[i].family}) for i in all_pos) / len(all_pos),
                        "ictv": _pooled(by_ictv), "ictv_checked": _pooled(by_checked),
                        "ictv_checks": dict(Counter(checks[ev[i].accession].status for i in all_pos
                                                    if ev[i].accession in ictv and ev[i].accession in checks))},
            "seconds": {"new": round(t_new, 1), "old": round(t_old, 1), "proteins": len(ev)}}


def hard_negatives() -> dict:
    recs = read_fasta_text(HARD_NEGATIVES.read_text())
    new = rep_call.call_reps([(h.split()[0], s) for h, s in recs])
    return {h.split()[0]: {"what": h.split(" ", 1)[1].split(" | ")[0], "evaluation_split": in_evaluation_split(h),
                           "call": n["call"], "confidence": n["confidence"],
                           "call_old": rep_motifs.annotate(s)["call"]} for (h, s), n in zip(recs, new)}


def cross_validate(proteins: list[Protein], log=print, families: list[str] | None = None) -> dict:
    """Family-held-out CV: drop each family's training Reps, rebuild the family profiles and references without
    them (thresholds/calibration unchanged), call that family's evaluation Reps."""
    cal = rep_call.calibration()
    # the phage and REn profiles do not depend on the held-out family: reuse the shipped ones
    shipped_other = [h for h in rep_profiles.shipped_profiles() if rep_profiles.text(h.name).split("|")[0]
                     in ("PHAGE", "NEG")]
    ev_by: dict[str, list[Protein]] = defaultdict(list)
    for p in proteins:
        if p.evaluation and p.category == "cress_rep" and p.full_length:
            ev_by[p.family].append(p)
    out = {}
    # label conflicts among all training Reps, once (the held-out family's Reps are then removed with the rest)
    conflicts = rep_build.label_conflicts([p for v in rep_build.training_reps(proteins).values() for p in v])
    for fam in sorted(f for f, v in ev_by.items() if len(v) >= MIN_EVAL and (not families or f in families)):
        t0 = time.perf_counter()
        hmms = rep_build.build(proteins, exclude_family=fam, cress_only=True) + shipped_other
        refs = [rep_family.Reference(p.accession, p.family, p.genus, p.sequence, rep_family._kmers(p.sequence))
                for p in rep_build.references(proteins, hmms, conflicts=conflicts) if p.family != fam]
        res = rep_call.call_reps([(p.accession, p.sequence) for p in ev_by[fam]], hmms=hmms, refs=refs, cal=cal)
        names = Counter((r["family"] or {}).get("name", "none") for r in res)
        out[fam] = {"n": len(res), "yes": _rate([r["call"] for r in res], "yes"),
                    "calls": _dist([r["call"] for r in res]), "family_outcomes": dict(names.most_common()),
                    "unclassified": names.get(rep_family.UNCLASSIFIED, 0) / len(res)}
        log(f"  CV {fam}: {out[fam]['calls']}; {dict(names.most_common(3))} ({time.perf_counter() - t0:.0f}s)")
    return out


def print_tables(res: dict) -> None:
    if "families" in res:
        print_eval_tables(res)
    if res.get("cv"):
        print("\n| held-out family | n | yes | calls | family outcomes |")
        print("|---|---|---|---|---|")
        for fam, r in res["cv"].items():
            print(f"| {fam} | {r['n']} | {r['yes']:.3f} | {r['calls']} | {r['family_outcomes']} |")


def print_eval_tables(res: dict) -> None:
    print("\n| family | n (eval, 250-600 aa) | yes recall (new) | yes recall (old regex) | family accuracy (raw label) "
          "| family accuracy (audited; audited records) | family accuracy, ICTV-named Reps (n) "
          "| family accuracy, ICTV-named, isolate-checked (n) | family accuracy, named-genus Reps (n) | calls (new) "
          "| misses |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ictv, checked = res.get("ictv", {}), res.get("ictv_checked", {})
    cell = lambda by, fam: f"{by[fam]['accuracy']:.3f} ({by[fam]['n']})" if fam in by else "-"  # noqa: E731
    for fam, r in res["families"].items():
        mark = "" if r["n"] >= MIN_EVAL else " (n<5)"
        ng = r["named_genus"]
        named = f"{ng['accuracy']:.3f} ({ng['n']})" if ng["n"] else "-"
        print(f"| {fam}{mark} | {r['n']} | {r['recall_yes']:.3f} | {r['recall_yes_old']:.3f} | "
              f"{r['family_accuracy']:.3f} | {r['family_accuracy_audited']:.3f} ({r['audited_records']}) | "
              f"{cell(ictv, fam)} | {cell(checked, fam)} | {named} | {r['calls']} | {' '.join(r['misses'][:4])} |")
    o = res["overall"]
    pooled = {k: o[k] for k in ("ictv", "ictv_checked") if (o.get(k) or {}).get("n")}
    print(f"| **all** | {o['n']} | {o['recall_yes']:.3f} | {o['recall_yes_old']:.3f} | {o['family_accuracy']:.3f} | "
          f"{o['family_accuracy_audited']:.3f} | {cell(pooled, 'ictv')} | {cell(pooled, 'ictv_checked')} | | | |")
    if res.get("ictv_rejected") is not None:
        print(f"\nICTV name labels checked against the species' isolate Reps: {o.get('ictv_checks')}")
        print("\n| rejected name label | ICTV family (species) | identity to isolate Rep | predicted | virus |")
        print("|---|---|---|---|---|")
        for acc, m in res["ictv_rejected"].items():
            print(f"| {acc} | {m['ictv_family']} ({m['species']}) | {m['identity']} ({m['isolate_rep']}) | "
                  f"{m['predicted']} | {m['virus']} |")
    misses = [(fam, acc, m) for fam, r in ictv.items() for acc, m in r["misses"].items()]
    if misses:
        print("\n| ICTV-named miss | ICTV family (species) | predicted | CRESSENT label | nearest (identity) | virus |")
        print("|---|---|---|---|---|---|")
        for fam, acc, m in misses:
            near = m["nearest"] or {}
            print(f"| {acc} | {fam} ({m['ictv_species']}) | {m['predicted']} | {m['cressent_label']} | "
                  f"{near.get('accession', '-')} ({near.get('identity', '-')}) | {m['virus']} |")
    print("\n| class (eval split) | n | false yes (new) | false yes (old) | calls (new) | calls (old) |")
    print("|---|---|---|---|---|---|")
    for cls, r in res["others"].items():
        print(f"| {cls} | {r['n']} | {r['yes']:.4f} | {r['yes_old']:.4f} | {r['calls']} | {r['calls_old']} |")
    if res.get("hard_negatives"):
        print("\n| hard negative | protein | eval split | call (new) | confidence | call (old) |")
        print("|---|---|---|---|---|---|")
        for acc, r in res["hard_negatives"].items():
            print(f"| {acc} | {r['what']} | {r['evaluation_split']} | {r['call']} | {r['confidence']} | "
                  f"{r['call_old']} |")
    s = res["seconds"]
    print(f"\n{s['proteins']} evaluation proteins: new call {s['new']} s, old regex {s['old']} s (same run).")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cressent", type=Path, required=True)
    ap.add_argument("--cv", action="store_true", help="also run family-held-out cross-validation (minutes)")
    ap.add_argument("--cv-families", help="comma-separated: cross-validate only these families")
    ap.add_argument("--cv-only", action="store_true", help="skip the evaluation-split run (with --cv)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    proteins = load_cressent(args.cressent)
    if args.cv_only:
        res = {"cv": cross_validate(proteins, families=[f for f in (args.cv_families or "").split(",") if f] or None)}
        print_tables(res)
        if args.json:
            args.json.write_text(json.dumps(res, indent=1) + "\n")
        return 0
    ictv = label_proteins(proteins, name_index(read_vmr(VMR_FILE))) if VMR_FILE.exists() else None
    checks = (check_labels([p for p in proteins if p.evaluation], ictv, read_isolate_reps())  # only these are scored
              if ictv and ISOLATE_REPS.exists() else None)
    res = evaluate(proteins, read_audit(AUDIT_FILE) if AUDIT_FILE.exists() else None, ictv, checks)
    if HARD_NEGATIVES.exists():
        res["hard_negatives"] = hard_negatives()
    if args.cv:
        res["cv"] = cross_validate(proteins, families=[f for f in (args.cv_families or "").split(",") if f] or None)
    print_tables(res)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
