"""Label audit of the evaluation split: evaluation Reps whose CRESSENT family label the data contradict.

    python bench/rep_label_audit.py --cressent /path/to/cressent [--out tests/data/sequences/rep_label_audit.tsv]

Every full-length (250-600 aa) evaluation-split CRESS Rep goes through the same three rules; none looks at what the
classifier predicts, and the evidence is CRESSENT's own files and training-split Reps:

- ``para_rep``: a UniProt "Para-Rep" (the Rep of a nanovirus-associated alphasatellite, filed under its helper
  virus): the label is wrong; only Alphasatellitidae is accepted.
- ``copy_elsewhere``: the nearest training Rep (semi-global alignment, identity over the shorter sequence) is >= 97 %
  identical and filed under another family, and the best training Rep of the labelled family is at least 5 points
  less identical: the same protein carries two labels; the data cannot say which is right, so both are accepted.
- ``filed_twice``: CRESSENT files the accession under two families (the loader keeps the first file as the raw
  label); both are accepted.
- ``placeholder``: the record's organism is an NCBI placeholder named after a higher taxon ("Circoviridae sp.",
  "Cressdnaviricota sp.", "Periparus ater Circoviridae sp.", "Circoviridae TM-6c"): CRESSENT collected each family
  with the Entrez query "<family>[Organism] OR <family>[All Fields]" (its DB/scripts/README.md), so such a label
  restates the submitter's placeholder, not a classification (most of these predate the families created since
  2021). When the nearest training Rep of another family reaches the family identity level (FAMILY_LEVEL) and is at
  least COPY_MARGIN closer than every training Rep of the labelled family, that family is accepted too; when no
  training Rep reaches the level, "unclassified CRESS" is accepted too. Placeholders whose nearest training Rep
  carries their own label are not listed.

bench/rep_eval.py reports family accuracy against the raw labels and against this audit; the table is shipped so a
test can check it without CRESSENT.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp_servers.sequence import rep_build, rep_call, rep_family  # noqa: E402
from mcp_servers.sequence.rep_data import Protein, load_cressent  # noqa: E402
from mcp_servers.sequence.rep_family import UNCLASSIFIED  # noqa: E402

AUDIT_FILE = ROOT / "tests" / "data" / "sequences" / "rep_label_audit.tsv"
COPY_IDENTITY = 0.97
COPY_MARGIN = 0.05
CANDIDATES = 40
FAMILY_LEVEL = rep_call.calibration()["thresholds"]["family_identity"]  # the shipped nearest-reference level
PLACEHOLDER = re.compile(r"[A-Za-z]+(?:viridae|viricota|viricetes|virales)\b")
COLUMNS = ("accession", "label", "accepted", "rule", "identity", "evidence", "evidence_family", "label_best", "virus",
           "reason", "sequence")


def evaluation_reps(proteins: list[Protein]) -> list[Protein]:
    return [p for p in proteins if p.evaluation and p.category == "cress_rep" and p.full_length]


def audit(proteins: list[Protein]) -> list[dict]:
    train = [p for fam in rep_build.training_reps(proteins).values() for p in fam]
    pool = [rep_family.Reference(p.accession, p.family, p.genus, p.sequence, rep_family._kmers(p.sequence))
            for p in train]
    virus = {p.accession: p.virus for p in train}
    rows = []
    for p in evaluation_reps(proteins):
        hits = rep_family.nearest_all(p.sequence, pool, CANDIDATES)
        top = hits[0] if hits else None
        own = next((h for h in hits if h[0].family == p.family), None)
        row = {"accession": p.accession, "label": p.family, "sequence": p.sequence, "identity": "", "evidence": "",
               "virus": p.virus, "evidence_family": "", "label_best": f"{own[1]:.3f}" if own else ""}
        if "Para-Rep" in p.header:
            rows.append(row | {"accepted": "Alphasatellitidae", "rule": "para_rep",
                               "reason": f"UniProt names it '{p.header.split('Full=')[1].split(';')[0]}': the Rep "
                                         "of a nanovirus-associated alphasatellite, filed under its helper virus"})
        elif top and top[0].family != p.family and top[1] >= COPY_IDENTITY and (
                own is None or own[1] <= top[1] - COPY_MARGIN):
            rows.append(row | {"accepted": "|".join((*p.families, top[0].family)), "rule": "copy_elsewhere",
                               "identity": f"{top[1]:.3f}",
                               "evidence": top[0].accession, "evidence_family": top[0].family,
                               "reason": f"{top[1]:.1%} identical to training Rep {top[0].accession} filed under "
                                         f"{top[0].family} ({virus[top[0].accession] or 'no virus name'}); "
                                         + (f"best {p.family} training Rep {own[1]:.1%}" if own else
                                            f"no {p.family} training Rep among the {CANDIDATES} candidates")})
        elif p.ambiguous:
            rows.append(row | {"accepted": "|".join(p.families), "rule": "filed_twice",
                               "reason": f"CRESSENT files {p.accession} under {' and '.join(p.families)}"})
        elif PLACEHOLDER.search(p.virus):
            rows += placeholder_row(p, row, top, own, virus)
    return rows


def placeholder_row(p: Protein, row: dict, top, own, virus: dict[str, str]) -> list[dict]:
    """The `placeholder` rule for one record whose organism name is a higher-taxon placeholder (see module doc)."""
    why = f"organism '{p.virus}' is a placeholder named after a higher taxon, not a classification; "
    if top is None or top[1] < FAMILY_LEVEL:
        best = f"{top[1]:.1%}" if top else "none"
        return [row | {"accepted": f"{p.family}|{UNCLASSIFIED}", "rule": "placeholder",
                       "identity": f"{top[1]:.3f}" if top else "",
                       "reason": why + f"no training Rep reaches {FAMILY_LEVEL:.0%} identity (best {best})"}]
    if top[0].family != p.family and (own is None or own[1] <= top[1] - COPY_MARGIN):
        return [row | {"accepted": f"{p.family}|{top[0].family}", "rule": "placeholder", "identity": f"{top[1]:.3f}",
                       "evidence": top[0].accession, "evidence_family": top[0].family,
                       "reason": why + f"{top[1]:.1%} identical to training Rep {top[0].accession} filed under "
                                       f"{top[0].family} ({virus[top[0].accession] or 'no virus name'}); "
                                       + (f"best {p.family} training Rep {own[1]:.1%}" if own else
                                          f"no {p.family} training Rep among the {CANDIDATES} candidates")}]
    return []


def read_audit(path: Path = AUDIT_FILE) -> dict[str, set[str]]:
    """accession -> accepted families (bench/rep_eval.py)."""
    with open(path, newline="") as fh:
        return {r["accession"]: set(r["accepted"].split("|")) for r in csv.DictReader(fh, delimiter="\t")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cressent", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=AUDIT_FILE)
    args = ap.parse_args(argv)
    proteins = load_cressent(args.cressent)
    rows = audit(proteins)
    with open(args.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    n = len(evaluation_reps(proteins))
    print(f"{len(rows)} of {n} evaluation Reps audited -> {args.out}")
    for r in rows:
        print(f"  {r['accession']:14s} {r['label']:18s} -> {r['accepted']:32s} {r['rule']:15s} {r['reason'][:90]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
