"""The CRESS Rep call from profile evidence: HUH endonuclease and SF3 helicase domains, their order and coverage.

    from mcp_servers.sequence.rep_call import call_rep
    call_rep("MPSKKNGRSG...")  # -> {"call": "yes", "confidence": 0.99, "reason": "...", "family": {...}, ...}

Outcomes (``call``):

- ``yes``: a CRESS Rep: a CRESS-like HUH endonuclease domain followed by an SF3 helicase domain at CRESS spacing;
  or, when no HUH profile reaches its threshold, an SF3 helicase domain preceded at that spacing by the RCR motifs II
  and III of an HUH endonuclease (a divergent HUH domain, e.g. a family without profiles of its own).
- ``partial``: a truncated CRESS Rep: the HUH domain and the sequence ends soon after it, or the SF3 domain with
  too little sequence before it to hold the HUH domain (fragments, partial ORFs).
- ``huh_only``: an HUH endonuclease without an SF3 helicase: either a phage/plasmid-like Rep (Microviridae,
  Inoviridae profiles score higher than any CRESS profile) or a RepA-like protein (the CRESS HUH domain is followed
  by a full C-terminal region without a helicase: geminivirus/genomovirus RepA, an unspliced Rep ORF).
- ``no``: anything else (no CRESS domain; an SF3 helicase with a long non-CRESS N-terminus as in parvovirus NS1,
  polyomavirus large T or papillomavirus E1; a geminivirus REn/AC3).

Thresholds and the confidence curves come from rep_calibration.json (built from the training split only by
scripts/build_rep_profiles.py). Motif positions are found with rep_motifs (1-based, inclusive ``start``/``end``) and
are reported, not used for the decision.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from . import rep_motifs, rep_profiles
from .rep_profiles import DomainHit

CALIBRATION_FILE = rep_profiles.DATA_DIR / "rep_calibration.json"
CALLS = ("yes", "partial", "huh_only", "no")
METHOD = ("Profile HMMs (pyhmmer) of the HUH endonuclease and SF3 helicase domains of every Cressdnaviricota family, "
          "built from CRESSENT's curated Reps (training split only). yes = HUH then SF3 at CRESS spacing; partial = "
          "a truncated CRESS Rep; huh_only = HUH endonuclease without SF3 helicase (phage/plasmid-like Rep or RepA); "
          "no = otherwise. Confidence = logistic calibration of the domain bit scores on the training split. Family "
          "= nearest training reference (identity) or family profile. Motif positions (rep_motifs) are 1-based and "
          "reported, not used to decide. Details in docs/sequence.md.")


@lru_cache(maxsize=4)
def calibration(path: str = str(CALIBRATION_FILE)) -> dict:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"Rep calibration {p} is missing; build it with scripts/build_rep_profiles.py.")
    return json.loads(p.read_text())


def _sigmoid(curve: dict, x: float) -> float:
    z = curve["a"] + curve["b"] * x
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _best(hits: Sequence[DomainHit], kind: str, after: int | None = None) -> DomainHit | None:
    for h in hits:  # hits come best first
        if h.kind == kind and (after is None or h.start >= after):
            return h
    return None


def rcr_before(found: Sequence[dict], sf3: DomainHit | None, max_gap: int) -> dict | None:
    """RCR motifs II and III (rep_motifs, 1-based inclusive) in order before the SF3 domain, motif III ending at most
    max_gap residues before it (the HUH-SF3 spacing of CRESS Reps): the HUH endonuclease of a Rep whose HUH domain no
    profile matches (a family without profiles of its own). None otherwise."""
    by = {m["motif"]: m for m in found}
    two, three = by.get("motif_II"), by.get("motif_III")
    if sf3 is None or two is None or three is None or not two["end"] < three["start"] <= three["end"] <= sf3.start:
        return None
    return {"motif_II": two["start"], "motif_III": three["start"], "gap": sf3.start - three["end"]} \
        if sf3.start - three["end"] <= max_gap else None


def evidence(hits: Sequence[DomainHit], length: int, cal: dict, found: Sequence[dict] = ()) -> dict:
    """The domain evidence the call is made from (JSON-able); found: the motif positions (motifs())."""
    t = cal["thresholds"]
    huh = _best(hits, "HUH")
    huh_ok = huh is not None and huh.score >= t["huh"]
    sf3 = _best(hits, "SF3", after=(huh.start + (huh.end - huh.start) // 2) if huh_ok else None)
    sf3_ok = sf3 is not None and (sf3.score >= t["sf3_strong"] or (sf3.score >= t["sf3"] and
                                                                   sf3.coverage >= t["sf3_coverage"]))
    phage, fam, neg = _best(hits, "PHAGE"), _best(hits, "FAM"), _best(hits, "NEG")
    cress_best = max(fam.score if fam else 0.0, (huh.score if huh else 0.0) + (sf3.score if sf3 else 0.0))
    phage_won = phage is not None and phage.score >= t["phage"] and phage.score > cress_best
    rcr = rcr_before(found, sf3, t["max_gap"]) if sf3_ok and not huh_ok else None
    return {"huh": huh, "huh_ok": huh_ok, "sf3": sf3, "sf3_ok": sf3_ok, "phage": phage, "fam": fam, "neg": neg,
            "length": length, "cress_best": cress_best, "phage_won": phage_won, "rcr": rcr}


def decide(ev: dict, cal: dict) -> tuple[str, float, str]:
    """(call, confidence, reason) from the domain evidence."""
    t, curves = cal["thresholds"], cal["confidence"]
    huh, sf3, phage, neg = ev["huh"], ev["sf3"], ev["phage"], ev["neg"]
    huh_s = huh.score if huh else 0.0
    sf3_s = sf3.score if sf3 else 0.0
    cress_best = ev["cress_best"]
    p_rep = _sigmoid(curves["yes"], min(huh_s, sf3_s) if ev["huh_ok"] and ev["sf3_ok"] else 0.0)
    p_dom = _sigmoid(curves["domain"], max(huh_s, sf3_s))
    if ev["phage_won"]:
        conf = _sigmoid(curves["domain"], phage.score - cress_best)
        return "huh_only", conf, (
            f"HUH endonuclease without an SF3 helicase: the protein matches the phage/plasmid-like Rep profile "
            f"{phage.label} ({phage.score:.0f} bits) better than any CRESS Rep profile ({cress_best:.0f} bits); "
            "a phage or plasmid rolling-circle Rep, not a CRESS-DNA virus Rep.")
    if ev["huh_ok"] and ev["sf3_ok"]:
        gap = sf3.start - huh.end
        if gap <= t["max_gap"]:
            return "yes", p_rep, (
                f"CRESS Rep: HUH endonuclease domain ({huh.label} profile, {huh_s:.0f} bits, residues "
                f"{huh.start + 1}-{huh.end}) followed by an SF3 helicase domain ({sf3.label} profile, {sf3_s:.0f} "
                f"bits, residues {sf3.start + 1}-{sf3.end}).")
        return "no", 1.0 - p_rep, (
            f"An HUH domain and an SF3 helicase are both present, but {gap} residues apart (CRESS Reps: at most "
            f"{t['max_gap']}), as in parvovirus Rep/NS1, where an extra domain separates them: not a CRESS Rep.")
    if ev["huh_ok"]:
        tail = ev["length"] - huh.end
        if tail >= t["repa_tail"]:
            return "huh_only", p_dom, (
                f"HUH endonuclease without an SF3 helicase: a CRESS-like HUH domain ({huh.label} profile, "
                f"{huh_s:.0f} bits, residues {huh.start + 1}-{huh.end}) is followed by {tail} residues with no SF3 "
                "helicase: RepA-like (e.g. geminivirus/genomovirus RepA, the unspliced Rep ORF), not a truncation.")
        return "partial", p_dom, (
            f"Truncated CRESS Rep: CRESS HUH endonuclease domain ({huh.label} profile, {huh_s:.0f} bits) and the "
            f"sequence ends {tail} residues after it, where the SF3 helicase would start (fragment or partial ORF).")
    if ev["sf3_ok"] and ev.get("rcr"):
        r = ev["rcr"]  # as confident as a yes whose HUH domain just reaches the threshold
        return "yes", _sigmoid(curves["yes"], min(t["huh"], sf3_s)), (
            f"CRESS Rep: SF3 helicase domain ({sf3.label} profile, {sf3_s:.0f} bits, residues {sf3.start + 1}-"
            f"{sf3.end}) preceded by the RCR motifs II (residue {r['motif_II']}) and III (residue {r['motif_III']}) "
            f"of an HUH endonuclease {r['gap']} residues before it; no HUH profile reaches the threshold (best "
            f"{huh_s:.0f} bits): a divergent HUH domain, e.g. of a family without profiles of its own.")
    if ev["sf3_ok"]:
        head = sf3.start
        if head <= t["max_head"]:
            return "partial", p_dom, (
                f"Truncated CRESS Rep: CRESS SF3 helicase domain ({sf3.label} profile, {sf3_s:.0f} bits, residues "
                f"{sf3.start + 1}-{sf3.end}) with only {head} residues before it, too few for the HUH domain "
                "(N-terminal fragment missing).")
        return "no", 1.0 - p_dom, (
            f"An SF3 helicase ({sf3_s:.0f} bits) preceded by {head} residues without a CRESS HUH endonuclease: SF3 "
            "helicases also occur in parvovirus NS1/Rep, polyomavirus large T and papillomavirus E1; not a CRESS Rep.")
    if neg is not None and neg.score >= t["neg"]:
        return "no", _sigmoid(curves["domain"], neg.score), (
            f"Matches the {neg.label} profile ({neg.score:.0f} bits) and no Rep domain: not a Rep.")
    return "no", 1.0 - p_dom, "No CRESS Rep HUH endonuclease or SF3 helicase domain above the calibrated thresholds."


def motifs(seq: str) -> tuple[list[dict], float]:
    """RCR I-III, Walker A/B, motif C positions (rep_motifs chain; 1-based, inclusive) and the chain's score."""
    chain = rep_motifs.best_chain(rep_motifs.find_candidates(seq))
    return [h.as_dict() for h in chain], round(sum(h.score for h in chain), 3)


def _result(record_id: str, seq: str, hits: list[DomainHit], cal: dict, with_family: bool, refs=None) -> dict:
    found, chain_score = motifs(seq)
    ev = evidence(hits, len(seq), cal, found)
    call, conf, reason = decide(ev, cal)
    family = None
    if with_family and call in ("yes", "partial", "huh_only") and not ev["phage_won"]:
        from .rep_family import classify_hits

        family = classify_hits(seq, hits, cal, refs)
    domains = [d.as_dict() | {"domain": k} for k, d in (("HUH endonuclease", ev["huh"]), ("SF3 helicase", ev["sf3"]))
               if d is not None and ev[f"{'huh' if k.startswith('HUH') else 'sf3'}_ok"]]
    return {"id": record_id, "length": len(seq), "call": call, "is_rep": call == "yes",
            "confidence": round(conf, 3), "reason": reason, "family": family, "motifs": found,
            "chain_score": chain_score, "domains": domains, "best_profiles": [h.as_dict() for h in hits[:5]]}


def call_reps(records: Sequence[tuple[str, str]], with_family: bool = True, hmms=None, refs=None,
              cal: dict | None = None) -> list[dict]:
    """call_rep for many (record_id, protein) pairs with one profile search (faster than one by one). hmms, refs and
    cal replace the shipped profiles, references and calibration (cross-validation)."""
    cal = calibration() if cal is None else cal
    seqs = [s.upper().rstrip("*") for _, s in records]
    for (rid, _), s in zip(records, seqs):
        bad = sorted({c for c in s if not c.isalpha()})
        if not s or bad:
            raise ValueError(f"call_rep: record {rid!r} must be a non-empty one-letter protein sequence"
                             + (f" (found {''.join(bad)!r})" if bad else ""))
    hits = rep_profiles.search(seqs, hmms)
    return [_result(rid, s, h, cal, with_family, refs) for (rid, _), s, h in zip(records, seqs, hits)]


def call_rep(protein_seq: str, record_id: str = "sequence") -> dict:
    """Is this protein a CRESS Rep? {call: yes|partial|huh_only|no, is_rep, confidence (0-1), reason, family (dict or
    None), motifs [{motif, name, domain, start, end, sequence, score}] (1-based), domains, best_profiles}."""
    return call_reps([(record_id, protein_seq)])[0]
