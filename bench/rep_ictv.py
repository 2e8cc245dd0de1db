"""ICTV family labels for Reps, from the ICTV Virus Metadata Resource (VMR): a label source independent of CRESSENT's
file names and of every prediction.

    python bench/rep_ictv.py --vmr VMR_MSL38_v2.csv [--out tests/data/sequences/ictv_vmr_cress.tsv]   # ship subset
    python bench/rep_ictv.py --cressent /path/to/cressent                                   # label log (eval split)

CRESSENT filed each family with the Entrez query "<family>[Organism] OR <family>[All Fields]", so its Circoviridae
file holds many "Circoviridae sp." and "...associated circular virus" records that ICTV does not place in
Circoviridae. The VMR lists, for every ICTV species, its exemplar and additional isolates with their virus name(s),
family and genus. A Rep gets an ICTV label only when the organism name of its record (the last [...] of the header)
equals, case-insensitively and with whitespace collapsed, a VMR virus name or species name (no fuzzy or partial
matching) that

- is not an NCBI placeholder ("Circoviridae sp.", "Genomoviridae sp.", "uncultured virus", "CRESS virus sp.":
  the VMR itself lists some exemplars under such GenBank organism names, and the name does not identify them), and
- names one species only. The VMR gives some common names to several species ("rodent circovirus": 8 species of
  two genera; "bat circovirus": 4), and GenBank uses them for yet other isolates: CRESSENT's Kirkoviridae,
  Pecoviridae, Ouroboviridae and Draupnirviridae files (built from accessions in the ICTV reports of those families)
  hold "Rodent circovirus" and "Bat circovirus" Reps, so such a name does not fix the family.

Everything else stays unlabelled (and is logged); the VMR release predates families created since (e.g.
Draupnirviridae, Ouroboviridae), whose Reps therefore get no ICTV label.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VMR_FILE = ROOT / "tests" / "data" / "sequences" / "ictv_vmr_cress.tsv"
COLUMNS = ("family", "genus", "species", "exemplar", "virus_names", "abbreviations", "isolate", "genbank", "refseq")
_VMR_COLUMNS = ("Family", "Genus", "Species", "Exemplar or additional isolate", "Virus name(s)",
                "Virus name abbreviation(s)", "Virus isolate designation", "Virus GENBANK accession",
                "Virus REFSEQ accession")
# the Rep-bearing taxa of the evaluation: phylum Cressdnaviricota and the alphasatellites (family of satellites)
KEEP = {"Phylum": {"Cressdnaviricota"}, "Family": {"Alphasatellitidae"}}
PLACEHOLDER_NAME = re.compile(
    r"\bsp\.|\buncultured\b|\bunclassified\b|\bunidentified\b|\b[a-z]+vir(?:idae|inae|ales|icetes|icota)\b", re.I)


@dataclass(frozen=True)
class IctvLabel:
    family: str
    genus: str
    species: str  # the species whose name or one of whose virus names matched
    matched: str  # the normalised name that matched
    via: str  # "virus name" | "species"


def normalise(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().lower()


def subset_vmr(vmr_csv: Path) -> list[dict]:
    """The Cressdnaviricota + Alphasatellitidae rows of a VMR export (CSV with the VMR's column names)."""
    with open(vmr_csv, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in (*_VMR_COLUMNS, "Phylum") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{vmr_csv}: not a VMR table, missing column(s) {missing}")
        rows = [r for r in reader if any(r[col] in vals for col, vals in KEEP.items())]
    return [{k: ("" if r[c] in ("NA", None) else r[c].strip()) for k, c in zip(COLUMNS, _VMR_COLUMNS)} for r in rows]


def read_vmr(path: Path = VMR_FILE) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))


def name_index(rows: list[dict]) -> dict[str, IctvLabel]:
    """normalised virus/species name -> label, for the names that are not placeholders and name one species only."""
    found: dict[str, list[tuple[dict, str]]] = {}
    for r in rows:
        names = [(n, "virus name") for n in r["virus_names"].split(";")] + [(r["species"], "species")]
        for n, via in names:
            key = normalise(n)
            if key and not PLACEHOLDER_NAME.search(key):
                found.setdefault(key, []).append((r, via))
    return {key: IctvLabel(hits[0][0]["family"], hits[0][0]["genus"], hits[0][0]["species"], key, hits[0][1])
            for key, hits in found.items() if len({r["species"] for r, _ in hits}) == 1}


def ictv_label(organism: str, index: dict[str, IctvLabel]) -> IctvLabel | None:
    """The ICTV label of a record whose organism (virus) name is `organism`, or None."""
    return index.get(normalise(organism))


def label_proteins(proteins, index: dict[str, IctvLabel]) -> dict[str, IctvLabel]:
    """accession -> ICTV label for the proteins (rep_data.Protein) whose virus name the VMR names."""
    return {p.accession: lab for p in proteins if (lab := ictv_label(p.virus, index))}


def write_subset(rows: list[dict], out: Path, source: str) -> None:
    with open(out, "w", newline="", encoding="utf-8") as fh:
        fh.write(f"# ICTV Virus Metadata Resource subset (Cressdnaviricota + Alphasatellitidae) from {source}; "
                 "CC BY-SA 4.0, see SOURCE.md\n")
        w = csv.DictWriter(fh, COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vmr", type=Path, help="a full VMR export (CSV): write its Cress subset to --out")
    ap.add_argument("--out", type=Path, default=VMR_FILE)
    ap.add_argument("--source", default="VMR_MSL38_v2.csv")
    ap.add_argument("--cressent", type=Path, help="print the ICTV labels of the evaluation-split full-length Reps")
    args = ap.parse_args(argv)
    if args.vmr:
        rows = subset_vmr(args.vmr)
        write_subset(rows, args.out, args.source)
        print(f"{len(rows)} rows -> {args.out}: {dict(Counter(r['family'] for r in rows).most_common())}")
    if args.cressent:
        from bench.rep_label_audit import evaluation_reps
        from mcp_servers.sequence.rep_data import load_cressent
        reps = evaluation_reps(load_cressent(args.cressent))
        labels = label_proteins(reps, name_index(read_vmr(args.out)))
        agree = Counter((p.family, labels[p.accession].family) for p in reps if p.accession in labels)
        print(f"{len(labels)} of {len(reps)} evaluation Reps have an ICTV label (CRESSENT label -> ICTV family):")
        for (cres, ictv), n in sorted(agree.items()):
            print(f"  {cres:18s} -> {ictv:18s} {n}")
        print("unmatched organism names (CRESSENT label, count):")
        for (fam, virus), n in sorted(Counter((p.family, p.virus) for p in reps if p.accession not in labels).items()):
            print(f"  {fam:18s} {n:3d}  {virus}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
