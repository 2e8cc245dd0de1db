"""GenBank output of `annotate_genome` results (Biopython SeqRecord): CDS (CompoundLocation for genes that cross
the origin and for spliced exons), stem_loop and rep_origin features."""

from __future__ import annotations

import io

from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqFeature import CompoundLocation, SeqFeature, SimpleLocation
from Bio.SeqRecord import SeqRecord


def _parts(start: int, end: int, strand: int, n: int) -> list[SimpleLocation]:
    """Span -> locations in biological (5'->3') order; a span with end < start crosses the origin."""
    if end > start:
        return [SimpleLocation(start, end, strand)]
    parts = [SimpleLocation(start, n, strand), SimpleLocation(0, end, strand)]
    return parts if strand == 1 else parts[::-1]


def location(start: int, end: int, strand: int, n: int, exons: list[list[int]] | None = None):
    """A Biopython location for a gene (exons in transcript order) or a plain span."""
    parts = []
    for a, b in exons or [[start, end]]:
        parts.extend(_parts(a, b, strand, n))
    return parts[0] if len(parts) == 1 else CompoundLocation(parts)


def _record(rec: dict) -> SeqRecord:
    n = rec["length"]
    sr = SeqRecord(Seq(rec["sequence"]), id=rec["id"], name=rec["id"][:16],
                   description=rec.get("description") or "annotated by bioagent annotate_genome")
    sr.annotations.update(molecule_type="DNA", topology=rec["topology"], data_file_division="VRL")
    sr.features.append(SeqFeature(SimpleLocation(0, n, 1), type="source",
                                  qualifiers={"mol_type": "genomic DNA", "note": [f"is_cress: {rec['is_cress']}"]}))
    for i, g in enumerate(rec["genes"], start=1):
        q = {"locus_tag": [f"{rec['id']}_{i}"], "codon_start": ["1"], "transl_table": ["1"],
             "note": [f"role: {g['role']}"] + list(g.get("notes") or [])}
        if g.get("product"):
            q["product"] = [g["product"]]
        if g.get("rep_call"):
            rc = g["rep_call"]
            q["note"].append(f"Rep call: {rc.get('call')} (confidence {rc.get('confidence')}; {rc.get('backend')})")
        if g.get("protein"):
            q["translation"] = [g["protein"]]
        sr.features.append(SeqFeature(location(g["start"], g["end"], g["strand"], n, g.get("exons")), type="CDS",
                                      qualifiers=q))
    o = rec.get("origin")
    if o:
        a, b = o["stem_loop"]
        sr.features.append(SeqFeature(location(a, b, o["strand"], n), type="stem_loop",
                                      qualifiers={"note": [f"stem {o['stem_length']} bp, loop {o['loop_length']} nt, "
                                                           f"{o['fold_energy_kcal_mol']} kcal/mol (ViennaRNA, DNA)"]}))
        sr.features.append(SeqFeature(location(o["start"], (o["start"] + 9) % n or n, o["strand"], n),
                                      type="rep_origin",
                                      qualifiers={"note": [f"nonanucleotide {o['nonanucleotide']}; Rep nicks after "
                                                           f"position {o['nick_after'] + 1} (1-based, + strand)"]}))
    if rec.get("family"):
        sr.annotations["comment"] = f"family (Rep): {rec['family'].get('name')} (score {rec['family'].get('score')})"
    return sr


def to_seqrecords(result: dict) -> list[SeqRecord]:
    """SeqRecords of an `annotate_genome` result (its records must carry `sequence`)."""
    missing = [r["id"] for r in result["records"] if not r.get("sequence")]
    if missing:
        raise ValueError(f"record(s) {', '.join(missing)} carry no sequence: annotate with include_sequences")
    return [_record(r) for r in result["records"]]


def to_genbank(result: dict) -> str:
    """GenBank flat-file text of an `annotate_genome` result."""
    out = io.StringIO()
    SeqIO.write(to_seqrecords(result), out, "genbank")
    return out.getvalue()
