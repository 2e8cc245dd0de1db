"""Build the capsid reference set of genome annotation from CRESSENT's capsid database (MIT).

    python scripts/build_capsid_refs.py CRESSENT/DB/caps [--per-family 60]

Takes the Cressdnaviricota families' capsid FASTA files (``<Family>.fa``, headers ``>ACC description|Family``),
drops proteins in the evaluation split of issue #13 (rep_split.in_evaluation_split, the same rule as for Reps),
proteins outside 100-800 aa and exact duplicates, then keeps up to ``--per-family`` per family, chosen by the SHA-1
of the accession (a fixed pseudo-random order), and writes mcp_servers/sequence/genome/data/capsid_refs.faa.gz
with ``>ACC|Family`` headers.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

from Bio import SeqIO

from mcp_servers.sequence.rep_split import bare_accession, in_evaluation_split

CRESS_FAMILIES = ("Adamaviridae", "Amesuviridae", "Anicreviridae", "Bacilladnaviridae", "Circoviridae",
                  "Draupnirviridae", "Geminiviridae", "Genomoviridae", "Kirkoviridae", "Metaxyviridae", "Nanoviridae",
                  "Naryaviridae", "Nenyaviridae", "Ouroboviridae", "Pecoviridae", "Redondoviridae", "Smacoviridae",
                  "Vilyaviridae")
OUT = Path(__file__).resolve().parents[1] / "mcp_servers/sequence/genome/data/capsid_refs.faa.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("caps_dir", type=Path, help="CRESSENT DB/caps directory")
    ap.add_argument("--per-family", type=int, default=60)
    args = ap.parse_args()
    lines, counts = [], {}
    seen: set[str] = set()
    for fam in CRESS_FAMILIES:
        path = args.caps_dir / f"{fam}.fa"
        if not path.exists():
            continue
        keep = []
        for rec in SeqIO.parse(path, "fasta"):
            seq = str(rec.seq).upper().rstrip("*")
            acc = bare_accession(rec.id)
            if in_evaluation_split(acc) or not 100 <= len(seq) <= 800 or seq in seen or not seq.isalpha():
                continue
            seen.add(seq)
            keep.append((hashlib.sha1(acc.encode()).hexdigest(), acc, seq))
        keep.sort()
        for _, acc, seq in keep[: args.per_family]:
            lines.append(f">{acc}|{fam}\n{seq}\n")
        counts[fam] = min(len(keep), args.per_family)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt") as fh:
        fh.writelines(lines)
    print(f"{OUT}: {sum(counts.values())} capsids", counts)


if __name__ == "__main__":
    main()
