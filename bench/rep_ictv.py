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

A name is evidence about the record, not proof: GenBank gives one organism name to several viruses ("Cattle
blood-associated circovirus-like virus" is strain Bvch001, the ICTV exemplar of Porprismacovirus bovas2, and also
Bvch002, an unrelated 1.9 kb genome), metagenome submitters name a contig after the nearest virus they know ("MAG:
... [Canine circovirus]"), and the Reps of a nanovirus's alphasatellites are deposited under the helper virus's name.
So a name label is checked against the Rep of an isolate the VMR lists for that species (ISOLATE_REPS: the Rep CDS
translations of those genomes in public NCBI GenBank files, written by ``--genbank``): a Rep less identical to every
such isolate Rep than the family level of the Rep classifier (its calibrated nearest-reference identity, 0.40;
semi-global alignment, identity over the shorter sequence, as rep_family) is not of that species, and its label is
rejected; a species with no isolate Rep in the files leaves the label unchecked. Neither step looks at a prediction.

    python bench/rep_ictv.py --genbank Circoviridae.gb Nanoviridae.gb ...   # ship the isolate Reps (ISOLATE_REPS)
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
ISOLATE_REPS = ROOT / "tests" / "data" / "sequences" / "ictv_isolate_reps.tsv"
ISOLATE_COLUMNS = ("species", "family", "genome", "protein_id", "product", "translation")
REP_PRODUCT = re.compile(r"\brep\b|replica|replication", re.I)  # as bench/genome_ncbi_eval.py
MIN_ISOLATE_REP = 150  # aa: a fragment ("Rep2", 77-121 aa) would be "identical" over a short overlap
ACCESSION = re.compile(r"\b[A-Z]{1,2}_?\d{5,}\b")
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


def vmr_genomes(rows: list[dict]) -> dict[str, str]:
    """Versionless GenBank / RefSeq accession -> species, for every isolate the VMR lists (all segments)."""
    return {acc: r["species"] for r in rows for acc in ACCESSION.findall(f"{r['genbank']} {r['refseq']}")}


def _rep_cds(feature) -> bool:
    q = feature.qualifiers
    text = " ".join(q.get("product", []) + q.get("note", []))
    # a geminivirus REn ("replication enhancer") is not a Rep
    return (feature.type == "CDS" and len(q.get("translation", [""])[0]) >= MIN_ISOLATE_REP
            and bool(REP_PRODUCT.search(text)) and "enhanc" not in text.lower())


def isolate_reps(genbank_files, rows: list[dict]) -> list[dict]:
    """The Rep CDS translations of the VMR-listed genomes in GenBank flat files (rows: ISOLATE_COLUMNS)."""
    from Bio import SeqIO

    genomes, family = vmr_genomes(rows), {r["species"]: r["family"] for r in rows}
    out: dict[tuple, dict] = {}
    for path in genbank_files:
        for rec in SeqIO.parse(str(path), "genbank"):
            species = genomes.get(rec.id.split(".")[0])
            for f in (f for f in rec.features if species and _rep_cds(f)):
                q = f.qualifiers
                pid = q.get("protein_id", ["-"])[0]
                out.setdefault((rec.id, pid), {"species": species, "family": family[species], "genome": rec.id,
                                               "protein_id": pid, "product": q.get("product", ["-"])[0],
                                               "translation": q["translation"][0]})
    return list(out.values())


def read_isolate_reps(path: Path = ISOLATE_REPS) -> dict[str, list[tuple[str, str]]]:
    """species -> [(protein_id, translation)] of the shipped isolate Reps."""
    out: dict[str, list[tuple[str, str]]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"):
            out.setdefault(r["species"], []).append((r["protein_id"], r["translation"]))
    return out


@dataclass(frozen=True)
class NameCheck:
    status: str  # "confirmed" | "rejected" | "unchecked" (no isolate Rep of the species in the files)
    identity: float | None = None  # to the most identical isolate Rep
    isolate_rep: str | None = None


def family_level() -> float:
    """The Rep classifier's calibrated nearest-reference family identity (rep_calibration.json)."""
    from mcp_servers.sequence.rep_call import calibration

    return calibration()["thresholds"]["family_identity"]


def check_labels(proteins, labels: dict[str, IctvLabel], reps: dict[str, list[tuple[str, str]]],
                 level: float | None = None) -> dict[str, NameCheck]:
    """accession -> NameCheck of its name label against the Reps of the isolates the VMR lists for that species."""
    from mcp_servers.sequence.rep_family import Reference, aligned

    level = family_level() if level is None else level
    out = {}
    for p in (p for p in proteins if p.accession in labels):
        refs = [Reference(pid, labels[p.accession].family, None, s, frozenset())
                for pid, s in reps.get(labels[p.accession].species, ())]
        if not refs:
            out[p.accession] = NameCheck("unchecked")
            continue
        ref, ident = aligned(p.sequence, refs)[0]
        out[p.accession] = NameCheck("confirmed" if ident >= level else "rejected", round(ident, 3), ref.accession)
    return out


def write_isolate_reps(reps: list[dict], out: Path, sources: list[str]) -> None:
    with open(out, "w", newline="", encoding="utf-8") as fh:
        fh.write(f"# Rep CDS translations of ICTV VMR isolates found in {', '.join(sources)}; see SOURCE.md\n")
        w = csv.DictWriter(fh, ISOLATE_COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(reps, key=lambda r: (r["family"], r["species"], r["genome"], r["protein_id"])))


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
    ap.add_argument("--genbank", type=Path, nargs="+", help="GenBank flat files: write the VMR isolates' Reps")
    ap.add_argument("--isolate-reps", type=Path, default=ISOLATE_REPS)
    args = ap.parse_args(argv)
    if args.vmr:
        rows = subset_vmr(args.vmr)
        write_subset(rows, args.out, args.source)
        print(f"{len(rows)} rows -> {args.out}: {dict(Counter(r['family'] for r in rows).most_common())}")
    if args.genbank:
        reps = isolate_reps(args.genbank, read_vmr(args.out))
        write_isolate_reps(reps, args.isolate_reps, [p.name for p in args.genbank])
        print(f"{len(reps)} Reps of {len({r['species'] for r in reps})} species -> {args.isolate_reps}: "
              f"{dict(Counter(r['family'] for r in reps).most_common())}")
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
        if args.isolate_reps.exists():
            checks = check_labels(reps, labels, read_isolate_reps(args.isolate_reps))
            status = dict(Counter(c.status for c in checks.values()))
            print(f"name labels checked against the species' isolate Reps: {status}")
            for acc, c in sorted(checks.items()):
                if c.status == "rejected":
                    lab = labels[acc]
                    print(f"  rejected {acc} {lab.family} ({lab.species}): {c.identity} to {c.isolate_rep}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
