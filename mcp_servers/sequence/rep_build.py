"""Training sets, profile build and calibration of the Rep call (used by scripts/build_rep_profiles.py and by the
family-held-out cross-validation of bench/rep_eval.py). Training split only (rep_split)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from . import rep_profiles
from .rep_data import CRESS_FAMILIES, Protein
from .rep_split import assert_training

MIN_FAMILY = 4  # training Reps needed for a family profile
MAX_PER_PROFILE = 250  # larger sets are subsampled (deterministically, by SHA-1 of the accession)
MAX_REFERENCES = 1000  # references kept per family for the nearest-reference search
BIN = 0.05  # identity bin width of the nearest-reference calibration
NEAR_IDENTICAL = 0.95
CONFLICT_IDENTITY = 0.98  # label_conflicts: copies at least this identical
CONFLICT_CANDIDATES = 8  # k-mer prefilter candidates aligned per reference in label_conflicts
PAN_PER_FAMILY = 30  # training Reps per family in the pan-family HUH / SF3 profiles (balanced across families)
PAN_LABEL = "pan-CRESS"
PHAGE_SPLIT_BITS = 30.0  # phage Reps whose best CRESS SF3 score reaches this get their own "-SF3" phage profile
NEGATIVE_CLASSES = ("capsid", "gemini_ren", "anellovirus_orf1", "archaeal_virus_rep")

# Design constants (not fitted; see docs/sequence.md)
FIXED = {"phage": 20.0, "sf3_coverage": 0.45, "repa_tail": 80, "max_head": 120, "neg": 20.0, "family": 60.0,
         "genus_identity": 0.6}


def _sha(acc: str) -> str:
    return hashlib.sha1(acc.encode()).hexdigest()


def subsample(items: list[Protein], k: int) -> list[Protein]:
    return sorted(items, key=lambda p: _sha(p.accession))[:k]


def training_reps(proteins: list[Protein], exclude_family: str | None = None,
                  keep: Callable[[Protein], bool] = lambda p: True) -> dict[str, list[Protein]]:
    out: dict[str, list[Protein]] = defaultdict(list)
    for p in proteins:
        if (not p.evaluation and p.category == "cress_rep" and p.full_length and p.family != exclude_family
                and not p.ambiguous and keep(p)):  # a Rep CRESSENT files under two families has no single label
            out[p.family].append(p)
    return out


def training_negatives(proteins: list[Protein], category: str) -> list[Protein]:
    return [p for p in proteins if not p.evaluation and p.category == category]


def build(proteins: list[Protein], exclude_family: str | None = None, keep: Callable[[Protein], bool] = lambda p: True,
          log: Callable[[str], None] = lambda s: None, cress_only: bool = False) -> list:
    """Every profile from the training split (optionally without one family, or only proteins `keep` accepts;
    cress_only: only the FAM/HUH/SF3 family profiles)."""
    reps = training_reps(proteins, exclude_family, keep)
    hmms = []
    for fam in CRESS_FAMILIES:
        if len(reps.get(fam, [])) < MIN_FAMILY:
            continue
        chosen = subsample(reps[fam], MAX_PER_PROFILE)
        hmms += rep_profiles.family_profiles(fam, [(p.header, p.sequence) for p in chosen])
        log(f"  {fam}: {len(chosen)}/{len(reps[fam])} training Reps")
    hmms += pan_profiles(reps, log)
    if cress_only:
        return hmms
    sf3 = [h for h in hmms if rep_profiles.text(h.name).startswith("SF3|")]
    for fam in ("Microviridae", "Inoviridae"):
        phage = [p for p in training_negatives(proteins, "phage_rep") if p.family == fam]
        best = [max((h.score for h in hs if h.kind == "SF3"), default=0.0)
                for hs in rep_profiles.search([p.sequence for p in phage], sf3)]
        groups = {fam: [p for p, b in zip(phage, best) if b < PHAGE_SPLIT_BITS],
                  f"{fam}-SF3": [p for p, b in zip(phage, best) if b >= PHAGE_SPLIT_BITS]}
        for name, members in groups.items():
            if len(members) >= MIN_FAMILY:
                chosen = subsample(members, MAX_PER_PROFILE)
                hmms.append(rep_profiles.single_profile(f"PHAGE|{name}", [(p.header, p.sequence) for p in chosen],
                                                        f"{fam} phage Rep, {len(chosen)} training proteins"))
                log(f"  PHAGE|{name}: {len(chosen)}/{len(members)}")
    ren = training_negatives(proteins, "gemini_ren")
    hmms.append(rep_profiles.single_profile("NEG|gemini_REn", [(p.header, p.sequence) for p in ren],
                                            f"Geminivirus replication enhancer (REn/AC3/C3), {len(ren)} proteins"))
    return hmms


def pan_profiles(reps: dict[str, list[Protein]], log: Callable[[str], None] = lambda s: None) -> list:
    """HUH|pan-CRESS and SF3|pan-CRESS: one HUH and one SF3 profile from up to PAN_PER_FAMILY training Reps of every
    family, jointly aligned and cut like a family's but not trimmed (the untrimmed columns keep the profile broad),
    so a Rep of a family without profiles of its own (a novel family; family-held-out cross-validation) still
    shows both domains."""
    chosen = [p for fam in CRESS_FAMILIES for p in subsample(reps.get(fam, []), PAN_PER_FAMILY)]
    if len({p.family for p in chosen}) < 2:
        return []
    assert_training((p.header for p in chosen), "pan-CRESS profiles")
    named = [(f"s{i}", p.sequence) for i, p in enumerate(chosen)]
    rows = rep_profiles.align(named)
    cut = rep_profiles.cut_column(rows, dict(named))
    n_fam = len({p.family for p in chosen})
    hmms = [rep_profiles.build_hmm(f"{kind}|{PAN_LABEL}", part, f"{kind} domain of CRESS Reps of {n_fam} families, "
                                   f"{len(part)} training proteins (untrimmed joint alignment)")
            for kind, part in (("HUH", rep_profiles._slice(rows, 0, cut)),
                               ("SF3", rep_profiles._slice(rows, cut, None)))]
    log(f"  {PAN_LABEL}: {len(chosen)} training Reps from {n_fam} families")
    return hmms


def label_conflicts(reps: list[Protein], level: float = CONFLICT_IDENTITY) -> set[str]:
    """Accessions of training Reps whose label the near-identical copies disagree with: among the training Reps at
    >= `level` identity to it (itself included), its own family does not hold a strict majority (identical Reps
    filed under two families, e.g. a GenBank and a RefSeq copy, or "Circoviridae sp." records of other families).
    Training split only; the rule has no fitted parameter."""
    from .rep_family import Reference, _kmers, nearest_all

    pool = [Reference(p.accession, p.family, p.genus, p.sequence, _kmers(p.sequence)) for p in reps]
    out = set()
    for r in pool:
        close = [q.family for q, ident in nearest_all(r.sequence, pool, CONFLICT_CANDIDATES)
                 if ident >= level and q.accession != r.accession]
        own = sum(f == r.family for f in close) + 1
        if close and own * 2 <= len(close) + 1:
            out.add(r.accession)
    return out


def references(proteins: list[Protein], hmms: list | None = None, log: Callable[[str], None] = lambda s: None,
               conflicts: set[str] | None = None) -> list[Protein]:
    """Training full-length Reps for the nearest-reference search, cleaned of labels the data contradict:
    (1) label_conflicts: near-identical (>= 98 %) copies mostly filed under other families; (2) with `hmms`, a
    reference is kept only when its family's profile is its best family profile, or its family has no profile
    (drops records filed under a family their Rep does not match, e.g. "Circoviridae sp." Reps of other families,
    a nanovirus Rep among alphasatellites). `conflicts`: label_conflicts already computed (cross-validation)."""
    by_fam = training_reps(proteins)
    out = [q for fam in sorted(by_fam) for q in subsample(by_fam[fam], MAX_REFERENCES)]
    if conflicts is None:
        conflicts = label_conflicts([p for fam in by_fam.values() for p in fam])
    out = [p for p in out if p.accession not in conflicts]
    log(f"  references: {len(conflicts)} training Reps dropped for conflicting near-identical labels")
    if hmms is not None:
        fam_hmms = [h for h in hmms if rep_profiles.text(h.name).startswith("FAM|")]
        best = [next((h.label for h in hs if h.kind == "FAM"), None)
                for hs in rep_profiles.search([p.sequence for p in out], fam_hmms)]
        profiled = {rep_profiles.text(h.name).split("|", 1)[1] for h in fam_hmms}
        n = len(out)
        out = [p for p, b in zip(out, best) if b == p.family or p.family not in profiled]
        log(f"  references: {n - len(out)} dropped whose best family profile is another family's; {len(out)} kept")
    assert_training((p.header for p in out), "reference set")
    return out


# ------------------------------------------------------------------------------------------------- calibration
def features(hits: list[rep_profiles.DomainHit]) -> dict:
    """Raw best scores (no thresholds) of one protein's hits."""
    def best(kind, after=None):
        return next((h for h in hits if h.kind == kind and (after is None or h.start >= after)), None)

    huh = best("HUH")
    sf3 = best("SF3", (huh.start + (huh.end - huh.start) // 2) if huh else None)
    fam, phage = best("FAM"), best("PHAGE")
    return {"huh": huh.score if huh else 0.0, "sf3": sf3.score if sf3 else 0.0,
            "gap": (sf3.start - huh.end) if huh and sf3 else None, "fam": fam.score if fam else 0.0,
            "fam_label": fam.label if fam else None, "phage": phage.score if phage else 0.0}


def platt(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 100) -> dict:
    """Logistic fit p = 1/(1+exp(-(a+b*x))) with Platt's smoothed targets and a small L2 penalty (Newton)."""
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    xs = x / 100.0
    X = np.stack([np.ones_like(xs), xs], 1)
    w = np.zeros(2)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -50, 50)))
        g = X.T @ (p - t) + l2 * w
        H = X.T @ (X * (p * (1 - p))[:, None]) + l2 * np.eye(2)
        w -= np.linalg.solve(H, g)
    return {"a": float(w[0]), "b": float(w[1] / 100.0)}


def crossfit_positive_features(proteins: list[Protein], log: Callable[[str], None] = print) -> list[dict]:
    """Scores of every training Rep against profiles built without it (two halves by SHA-1 parity)."""
    out = []
    for half in (0, 1):
        def other(p, half=half):
            return int(_sha(p.accession)[-1], 16) % 2 != half

        hmms = build(proteins, keep=other)
        mine = [p for fam in training_reps(proteins, keep=lambda p: not other(p)).values() for p in fam]
        out += [features(h) | {"family": p.family}
                for p, h in zip(mine, rep_profiles.search([p.sequence for p in mine], hmms))]
        log(f"  cross-fit half {half}: {len(mine)} training Reps scored")
    return out


def family_identity_threshold(refs: list[Protein], hmm_accuracy: float, log: Callable[[str], None] = print) -> float:
    """Lowest identity down to which the nearest *other* training reference's family is right at least as often as
    the family profiles are (0.05-wide identity bins, leave-one-out over the training references; >= 0.4)."""
    from .rep_family import Reference, _kmers, nearest

    pool = [Reference(p.accession, p.family, p.genus, p.sequence, _kmers(p.sequence)) for p in refs]
    pairs = []
    for r in pool:  # leave out the protein itself and identical copies filed under other accessions
        hit = nearest(r.sequence, [q for q in pool if q.sequence != r.sequence])
        if hit:
            pairs.append((hit[1], hit[0].family == r.family))
    pairs.sort(reverse=True)
    # Pairs >= NEAR_IDENTICAL are always trusted (a near-copy of a reference); their disagreements are mostly
    # GenBank/RefSeq copies of one protein filed under two families, which no method can resolve.
    best, hi = NEAR_IDENTICAL, NEAR_IDENTICAL
    while hi > 0.3:  # marginal accuracy in identity bins, high identity first; stop at the first bin below
        ok = [o for ident, o in pairs if hi - BIN <= ident < hi]
        if ok and np.mean(ok) < hmm_accuracy:
            break
        hi = round(hi - BIN, 3)
        best = hi
    log(f"  nearest-reference LOO: {len(pairs)} pairs, family identity threshold {best:.3f} "
        f"(profile accuracy {hmm_accuracy:.3f})")
    return max(0.4, round(best, 3))


def calibrate(proteins: list[Protein], hmms: list, log: Callable[[str], None] = print) -> dict:
    """Thresholds and confidence curves from the training split."""
    pos = crossfit_positive_features(proteins, log)
    neg_by: dict[str, list[dict]] = {}
    for cat in NEGATIVE_CLASSES + ("phage_rep",):
        items = training_negatives(proteins, cat)
        assert_training((p.header for p in items), f"calibration negatives {cat}")
        neg_by[cat] = [features(h) for h in rep_profiles.search([p.sequence for p in items], hmms)]
    non_phage = [f for c in NEGATIVE_CLASSES for f in neg_by[c]]
    t = dict(FIXED)
    t["huh"] = max(20.0, max(f["huh"] for f in non_phage) + 5)
    t["sf3"] = max(20.0, max(f["sf3"] for f in non_phage) + 5)
    t["sf3_strong"] = max(30.0, t["sf3"] + 10)
    gaps = [f["gap"] for f in pos if f["gap"] is not None and f["huh"] >= t["huh"] and f["sf3"] >= t["sf3"]]
    t["max_gap"] = int(np.percentile(gaps, 99.5)) + 20
    hmm_acc = float(np.mean([f["fam_label"] == f["family"] for f in pos]))
    t["family_identity"] = family_identity_threshold(references(proteins, hmms), hmm_acc, log)
    negs = non_phage + neg_by["phage_rep"]
    x_yes = np.array([min(f["huh"], f["sf3"]) for f in pos + negs])
    x_dom = np.array([max(f["huh"], f["sf3"]) for f in pos + non_phage])
    y = np.array([1] * len(pos) + [0] * len(negs))
    y_dom = np.array([1] * len(pos) + [0] * len(non_phage))
    counts = {"positives_crossfit": len(pos), "crossfit_family_profile_accuracy": round(hmm_acc, 4)} | {f"negatives_{c}": len(v) for c, v in neg_by.items()}
    log(f"  thresholds {t}")
    return {"thresholds": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in t.items()},
            "confidence": {"yes": platt(x_yes, y), "domain": platt(x_dom, y_dom)}, "training_counts": counts}
