"""Rep -> Cressdnaviricota family (genus where the reference names give it), with the nearest reference.

The family is the nearest training reference's family when the identity reaches the calibrated level (below it, the
nearest reference is right less often than the profiles, leave-one-out on the training split); otherwise the
best-scoring full-length family profile (``FAM|<family>``) when it reaches the calibrated bit score; otherwise
"unclassified CRESS". The nearest reference is found by a 3-mer prefilter and a semi-global alignment (parasail,
BLOSUM62, gap open 11 / extend 1) against the shipped training-split references (rep_references.faa.gz); identity =
identical aligned positions / length of the shorter sequence (so a short overlap cannot look identical). The genus is the nearest reference's genus (parsed from its virus name) when
the identity reaches the calibrated level, the families agree and the genus belongs to that family by ICTV
taxonomy (rep_data.GENUS_FAMILY: a "Mosquito circovirus" Rep filed under Draupnirviridae names no genus).

Every answer also names the runner-up: the nearest reference of another family (accession, family, % identity) and
the identity margin to it. When a nearest-reference call wins by less than CLOSE_MARGIN, ``close_call`` is true: the
two families are about equally near (typical of the "Circoviridae sp." metagenome Reps that sit between the families
created since 2021), so the runner-up is a real alternative. The margin does not change the call (leave-one-out on the
training split: letting the profiles break such ties lowered accuracy; bench/rep_family_loo.py).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import rep_profiles
from .rep_data import genus_family
from .rep_profiles import DomainHit

REFERENCES_FILE = rep_profiles.DATA_DIR / "rep_references.faa.gz"
UNCLASSIFIED = "unclassified CRESS"
PREFILTER = 12  # references aligned after the k-mer prefilter
K = 3
CLOSE_MARGIN = 0.05  # identity margin under which a nearest-reference call is flagged close_call


@dataclass(frozen=True)
class Reference:
    accession: str
    family: str
    genus: str | None
    sequence: str
    kmers: frozenset


def _kmers(seq: str) -> frozenset:
    return frozenset(seq[i:i + K] for i in range(len(seq) - K + 1))


@lru_cache(maxsize=4)
def references(path: str = str(REFERENCES_FILE)) -> tuple[Reference, ...]:
    if not Path(path).exists():
        raise FileNotFoundError(f"Rep reference set {path} is missing; build it with scripts/build_rep_profiles.py.")
    out, head, seq = [], None, []
    with gzip.open(path, "rt") as fh:
        for line in [*fh, ">"]:
            if line.startswith(">"):
                if head:
                    f = dict(x.split("=", 1) for x in head[1:])
                    s = "".join(seq)
                    out.append(Reference(head[0], f["family"], None if f["genus"] == "-" else f["genus"], s,
                                         _kmers(s)))
                head, seq = line[1:].split(), []
            else:
                seq.append(line.strip())
    return tuple(out)


def by_kmers(seq: str, refs: Sequence[Reference]) -> list[Reference]:
    """The references ordered by shared k-mers with `seq` (the prefilter), most first; ties keep their order."""
    q = _kmers(seq)
    return sorted(refs, key=lambda r: -len(q & r.kmers) / (min(len(q), len(r.kmers)) or 1))


def aligned(seq: str, cands: Sequence[Reference]) -> list[tuple[Reference, float]]:
    """`cands` with their alignment identity to `seq`, highest identity first."""
    import parasail

    out = []
    for r in cands:
        res = parasail.sg_stats_striped_16(seq, r.sequence, 11, 1, parasail.blosum62)
        out.append((r, res.matches / min(len(seq), len(r.sequence))))
    return sorted(out, key=lambda x: -x[1])


def nearest_all(seq: str, refs: Sequence[Reference], candidates: int = PREFILTER) -> list[tuple[Reference, float]]:
    """The k-mer prefilter's best `candidates` references with their alignment identity, highest identity first."""
    return aligned(seq, by_kmers(seq, refs)[:candidates])


def nearest(seq: str, refs: Sequence[Reference] | None = None) -> tuple[Reference, float] | None:
    """The reference with the highest alignment identity among the k-mer prefilter's best candidates."""
    refs = references() if refs is None else refs
    hits = nearest_all(seq, refs) if refs else []
    return hits[0] if hits else None


def runner_up(hits: Sequence[tuple[Reference, float]]) -> tuple[Reference, float] | None:
    """The nearest candidate whose family differs from the nearest one's (hits: nearest_all's output)."""
    return next(((r, i) for r, i in hits[1:] if r.family != hits[0][0].family), None) if hits else None


def classify_hits(seq: str, hits: Sequence[DomainHit], cal: dict, refs: Sequence[Reference] | None = None) -> dict:
    """Family from already computed profile hits (rep_call passes its own)."""
    t = cal["thresholds"]
    fams: dict[str, float] = {}
    for h in hits:
        if h.kind == "FAM" and h.label not in fams:
            fams[h.label] = h.score
    ranked = sorted(fams.items(), key=lambda kv: -kv[1])
    refs = references() if refs is None else refs
    prefiltered = by_kmers(seq, refs) if refs else []  # once: the runner-up search reads the same order
    cands = aligned(seq, prefiltered[:PREFILTER])
    near, second = (cands[0] if cands else None), runner_up(cands)
    if near and second is None:  # the prefilter's candidates are all of one family: look among the others
        others = [r for r in prefiltered if r.family != near[0].family][:max(1, PREFILTER // 2)]
        second = (aligned(seq, others) or [None])[0]
    out: dict = {"name": UNCLASSIFIED, "score": round(ranked[0][1], 1) if ranked else 0.0, "method": None,
                 "profiles": [{"family": f, "score": round(s, 1)} for f, s in ranked[:3]], "nearest": None,
                 "runner_up": None, "close_call": False}
    if near:
        out["nearest"] = {"accession": near[0].accession, "family": near[0].family, "identity": round(near[1], 3)}
    if second:
        out["runner_up"] = {"accession": second[0].accession, "family": second[0].family,
                            "identity": round(second[1], 3), "margin": round(near[1] - second[1], 3)}
    if near and near[1] >= t["family_identity"]:
        out.update(name=near[0].family, method="nearest reference",
                   close_call=bool(second and near[1] - second[1] < CLOSE_MARGIN))
    elif ranked and ranked[0][1] >= t["family"]:
        out.update(name=ranked[0][0], method="family profile HMM")
    if (near and near[0].genus and near[0].family == out["name"] and near[1] >= t["genus_identity"]
            and genus_family(near[0].genus) == out["name"]):  # a "Mosquito circovirus" filed under Draupnirviridae
        out["genus"] = near[0].genus
    return out


def classify_rep(protein_seq: str) -> dict:
    """{name (family or 'unclassified CRESS'), score (best family profile, bits), genus?, nearest {accession,
    family, identity}, runner_up {accession, family, identity, margin} | None, close_call, profiles (top 3),
    method}."""
    from .rep_call import calibration

    seq = protein_seq.upper().rstrip("*")
    return classify_hits(seq, rep_profiles.search([seq])[0], calibration())
