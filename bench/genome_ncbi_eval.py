"""Genome annotation against NCBI's own annotation: Rep CDS coordinates (exons), is_cress, nonanucleotide.

    python bench/genome_ncbi_eval.py FILE.gb [FILE.gb ...] [--only-refseq] [--json out.json]

Reads GenBank flat files (e.g. the per-family NCBI downloads of github.com/abelardoacm/ssDNA_viral_pangenomics,
data/Raw_database/<Family>.gb, MIT), annotates every record with `annotate_genome` (the core function of the MCP
tool and the CLI) and compares with the record's CDS whose product names a Rep / replication protein: exact
(start, end, strand, exons) match, same stop codon, or missed; and the nonanucleotide when a feature note gives one.
Prints one table row per family; no thresholds are fitted here.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import re
import sys
import time

from Bio import SeqIO

from mcp_servers.sequence.genome import annotate_genome

REP_PRODUCT = re.compile(r"\brep\b|replica|replication", re.I)
NEAR_NT = 15
NONA = re.compile(r"nona\w*\s*(?:motif|sequence)?[^ACGTU]{0,30}([ACGTU]{9})", re.I)


def split_parts(parts, n: int) -> list[tuple[int, int]]:
    """Exons as sorted (start, end) pieces split at the origin: an exon that crosses the origin (end < start, ours)
    becomes (start, n) + (0, end), as GenBank writes it (join(1484..1711,1..1))."""
    out = []
    for s, e in parts:
        out += [(s, n), (0, e)] if e < s else [(s, e)]
    return sorted((p for p in out if p[1] > p[0]), key=lambda p: p[0])


def n_exons(parts, n: int) -> int:
    """Exon count, an exon cut by the origin counted once."""
    pieces = split_parts(parts, n)
    return len(pieces) - (len(pieces) > 1 and pieces[0][0] == 0 and pieces[-1][1] == n)


def ncbi_reps(rec) -> list[tuple]:
    """(stop position, strand, exon pieces split at the origin) of each NCBI Rep CDS; the stop is the + strand end
    (strand 1) or start (strand -1) of the CDS's last part in transcript order."""
    out = []
    for f in rec.features:
        prod = " ".join(f.qualifiers.get("product", []) + f.qualifiers.get("note", []))
        if f.type == "CDS" and REP_PRODUCT.search(prod) and not re.search(r"\bRep[AB]\b", prod):
            last = f.location.parts[-1]
            stop = int(last.end) if f.location.strand == 1 else int(last.start)
            parts = split_parts([(int(p.start), int(p.end)) for p in f.location.parts], len(rec))
            out.append((stop, f.location.strand, parts))
    return out


def ncbi_nonanucleotide(rec) -> str | None:
    for f in rec.features:
        m = NONA.search(" ".join(f.qualifiers.get("note", [])))
        if m:
            return m.group(1).upper()
    return None


def compare(rec, res: dict) -> dict:
    want = ncbi_reps(rec)
    reps = [g for g in res["genes"] if g["role"] == "rep"]
    row = {"id": rec.id, "length": len(rec), "is_cress": res["is_cress"], "ncbi_reps": len(want),
           "ncbi_spliced": any(n_exons(w[2], len(rec)) > 1 for w in want), "rep": "none" if reps else "missed",
           "origin": (res["origin"] or {}).get("nonanucleotide"), "ncbi_nonanucleotide": ncbi_nonanucleotide(rec)}
    if not want:
        row["rep"] = "no NCBI Rep" if not reps else "extra"
        return row
    n = len(rec)
    for g in reps:
        parts = split_parts(g["exons"] or [(g["start"], g["end"])], n)
        for stop, strand, wparts in want:
            stop_same = (g["end"] if strand == 1 else g["start"]) == stop
            if g["strand"] != strand:
                continue
            if parts == wparts:
                row["rep"] = "exact"
                return row
            if len(parts) == len(wparts) and all(abs(x - y) <= NEAR_NT for p, w in zip(parts, wparts)
                                                 for x, y in zip(p, w)):
                row["rep"] = f"exons within {NEAR_NT} nt"
            elif stop_same and row["rep"] not in (f"exons within {NEAR_NT} nt",):
                row["rep"] = "same stop, other start/exons"
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--only-refseq", action="store_true", help="only NC_ records")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    rows, t0 = [], time.perf_counter()
    for path in a.files:
        fam = path.rsplit("/", 1)[-1].split(".")[0]
        for rec in SeqIO.parse(path, "genbank"):
            if a.only_refseq and not rec.id.startswith("NC_"):
                continue
            buf = io.StringIO()
            SeqIO.write(rec, buf, "genbank")
            res = annotate_genome(buf.getvalue())["records"][0]
            rows.append(compare(rec, res) | {"family": fam})
    secs = time.perf_counter() - t0
    print(f"{len(rows)} records in {secs:.0f} s\n")
    print(f"| family | records | is_cress yes/partial/no | Rep exact (NCBI exons) | exons within {NEAR_NT} nt | "
          "same stop | other / missed | spliced in NCBI: exact, within | origin found | = NCBI nonanucleotide |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    by = collections.defaultdict(list)
    for r in rows:
        by[r["family"]].append(r)
    for fam, rs in by.items():
        c = collections.Counter(r["is_cress"] for r in rs)
        withrep = [r for r in rs if r["ncbi_reps"]]
        k = collections.Counter(r["rep"] for r in withrep)
        sp = [r for r in withrep if r["ncbi_spliced"]]
        nona = [r for r in rs if r["ncbi_nonanucleotide"]]
        near = f"exons within {NEAR_NT} nt"
        print(f"| {fam} | {len(rs)} | {c['yes']}/{c['partial']}/{c['no']} | {k['exact']}/{len(withrep)} | "
              f"{k[near]} | {k['same stop, other start/exons']} | {k['none']} / {k['missed']} | "
              f"{sum(r['rep'] == 'exact' for r in sp)}, {sum(r['rep'] == near for r in sp)} of {len(sp)} | "
              f"{sum(bool(r['origin']) for r in rs)} | "
              f"{sum(r['origin'] == r['ncbi_nonanucleotide'] for r in nona)}/{len(nona)} |")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
