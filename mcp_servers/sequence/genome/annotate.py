"""`annotate_genome`: genes, Rep (spliced where a known pattern applies), capsid, origin and family of each
nucleotide record in raw, FASTA or GenBank text. The output is plain JSON (schema: `schema.GENOME_SCHEMA`).

Coordinates: 0-based starts, exclusive ends, + strand; ``end < start`` for a gene that crosses the origin of a
circular record; ``exons`` (transcript order) for a spliced gene, else null.
"""

from __future__ import annotations

from . import roles
from .capsid import capsid_hits
from .genes import Gene, find_genes
from .origin import find_origin
from .records import GenomeRecord, read_genomes
from .rep_adapter import BACKEND, call_reps, rank
from .splicing import best_splice, downstream_splices, rep_bits, upstream_splices

EDGE_NT = 3


def _short_call(call: dict | None) -> dict | None:
    if call is None:
        return None
    keep = ("call", "confidence", "reason", "family", "motifs", "backend")
    return {k: call.get(k) for k in keep if k in call}


def _touches_edge(g: Gene, n: int) -> bool:
    return g.start <= EDGE_NT or g.end >= n - EDGE_NT


def _inside(g: Gene, h: Gene, n: int) -> bool:
    """g lies within h's span on the same strand (a nested ORF of the same coding region)."""
    return g.strand == h.strand and (g.start - h.start) % n + g.nt_length(n) <= h.nt_length(n)


# Without a Rep, only a family-wide nonanucleotide is CRESS evidence (Rep-less components such as begomovirus DNA-B,
# nanovirus segments and satellites carry the first three; TAATATTAT genomoviruses, TAGTGTTAC smacoviruses, as NCBI
# annotates them); a single-virus variant alone is not (the anellovirus NC_043414.1 has PCV2's AAGTATTAC in a
# stem-loop; bench/genome_ncbi_eval.py)
COMPONENT_NONANUCLEOTIDES = {"TAATATTAC", "TAGTATTAC", "TATTATTAC", "TAATATTAT", "TAGTGTTAC"}
DOMAIN_CUT = 0.8  # profile coverage below which a Rep ORF's HUH or SF3 domain counts as cut (then try splicing)
SPLICE_GAIN = 20.0  # bits by which a spliced reading must beat a complete unspliced Rep ORF to replace it


def _gene_dict(g: Gene, n: int, role: str, product: str, call: dict | None) -> dict:
    return {
        "role": role, "product": product, "start": g.start, "end": g.end, "strand": g.strand,
        "exons": g.exons, "protein_length": len(g.protein), "rep_call": _short_call(call),
        "wraps_origin": g.wraps, "nt_length": g.nt_length(n), "finder": g.finder, "start_codon": g.start_codon,
        "notes": g.notes, "protein": g.protein,
    }


def _domain(call: dict, name: str) -> dict | None:
    return next((d for d in call.get("domains") or [] if d.get("domain") == name), None)


def _cut(call: dict, name: str) -> bool:
    """The call (profile caller, which reports domains) lacks domain `name` or its hit covers < DOMAIN_CUT of the
    profile."""
    d = _domain(call, name)
    return "domains" in call and (d is None or d.get("profile_coverage", 1.0) < DOMAIN_CUT)


def _splices(rec: GenomeRecord, gene: Gene, call: dict, downstream: bool = True) -> list:
    """Candidate splices of a Rep ORF: a helicase exon after it when its helicase is cut (or `downstream`), an
    N-terminal exon before it when its endonuclease is cut."""
    seq, circ = rec.sequence, rec.circular
    down = downstream_splices(seq, circ, gene) if downstream or _cut(call, "SF3 helicase") else []
    return down + (upstream_splices(seq, circ, gene) if _cut(call, "HUH endonuclease") else [])


def _pick_rep(rec: GenomeRecord, genes: list[Gene], calls: dict[int, dict]):
    """(rep gene, its call, RepA gene or None, reasons) following roles' rule; rep gene None when there is none.

    A complete Rep ORF is the Rep unless its endonuclease or helicase domain is cut and a spliced reading beats it
    by SPLICE_GAIN bits; without a complete Rep ORF, the best spliced reading of the endonuclease-only ORFs (a
    helicase exon after them, or an N-terminal exon before an ORF with a cut endonuclease) is the Rep."""
    n = len(rec)
    order = sorted(calls, key=lambda i: rank(calls[i]), reverse=True)
    if not order or calls[order[0]].get("call") == "no":
        return None, None, None, []
    top = calls[order[0]]
    if top.get("call") == "yes":
        gene = genes[order[0]]
        got = best_splice(rec.sequence, rec.circular, _splices(rec, gene, top, downstream=False), call_reps,
                          rep_bits(top) + SPLICE_GAIN)
        if got is None:
            return gene, top, None, []
        return got[0], got[1], None if got[2].upstream else gene, []
    cands = []
    for i in order:
        if calls[i].get("call") not in ("partial", "huh_only"):
            break
        cands += _splices(rec, genes[i], calls[i], downstream=_domain(calls[i], "HUH endonuclease") is not None
                          or "domains" not in calls[i])
    got = best_splice(rec.sequence, rec.circular, cands, call_reps)
    if got is not None:
        return got[0], got[1], None if got[2].upstream else got[2].source, []
    if top.get("call") == "partial":
        g = genes[order[0]]
        if not rec.circular and _touches_edge(g, n):
            return g, top, None, ["The Rep ORF runs into the end of the contig: a truncated Rep."]
        return None, top, None, ["partial-needs-origin"]
    return None, None, None, []


def _pick_capsid(genes: list[Gene], used: set[int], has_rep: bool) -> tuple[int | None, str]:
    """(gene index, evidence) of the capsid: the best hit to the CRESS capsid references; failing that, in a genome
    with a Rep, the ORF with the arginine/lysine-rich N-terminus of CRESS capsids (roles.pick_capsid)."""
    cands = [(i, g.protein) for i, g in enumerate(genes) if i not in used and len(g.protein) >= roles.MIN_CAP_AA]
    hits = capsid_hits(cands)
    if hits:
        i, h = max(hits.items(), key=lambda kv: kv[1]["bits"])
        return i, (f"similar to CRESS capsid {h['reference']} ({h['family']}; phmmer {h['bits']} bits, "
                   f"E = {h['evalue']})")
    if has_rep:
        pick = roles.pick_capsid(cands)
        if pick is not None:
            return pick[0], (f"no capsid reference hit; {100 * pick[1]:.0f}% R+K in the first {roles.CAP_NTERM} "
                             "residues, the basic N-terminus of CRESS capsids (predicted)")
    return None, ""


def _settle_topology(rec: GenomeRecord) -> None:
    """A tentatively circular small record stays circular only with a family nonanucleotide stem-loop."""
    if not rec.tentative:
        return
    o = find_origin(rec.sequence, True, generic=False)
    if o is not None:
        rec.topology_reason += f": found ({o.nonanucleotide})"
    else:
        rec.topology = "linear"
        rec.topology_reason += ": none found, so linear; pass circular=true if it is a closed molecule"


def annotate_record(rec: GenomeRecord) -> dict:
    _settle_topology(rec)
    seq, circ, n = rec.sequence, rec.circular, len(rec)
    genes = find_genes(seq, circ, linear_partials=not circ)
    big = [i for i, g in enumerate(genes) if len(g.protein) >= roles.MIN_REP_AA]
    calls = dict(zip(big, call_reps([(f"{rec.id}_gene{i + 1}", genes[i].protein) for i in big])))
    rep, rep_call, repa, notes = _pick_rep(rec, genes, calls)
    pending_partial = notes == ["partial-needs-origin"]
    notes = [] if pending_partial else notes
    origin = find_origin(seq, circ, generic=rep is not None or pending_partial)
    if pending_partial:
        if origin is not None and origin.known:
            i = max(calls, key=lambda k: rank(calls[k]))
            rep, rep_call = genes[i], calls[i]
            notes.append("Endonuclease-only Rep ORF next to a family nonanucleotide stem-loop: a truncated or "
                         "RepA-like Rep of a CRESS genome.")
        elif origin is not None and not origin.known:
            origin = None  # a generic NANTANTAN is only trusted next to a Rep
    out_genes: list[dict] = []
    used: set[int] = set()
    if rep is not None:
        out_genes.append(_gene_dict(rep, n, "rep", "Rep" if rep_call.get("call") == "yes" else "Rep (partial)",
                                    rep_call))
        for i, g in enumerate(genes):
            if g is rep:
                used.add(i)
            elif repa is not None and g is repa:
                used.add(i)
                out_genes.append(_gene_dict(g, n, "other", "RepA (unspliced Rep ORF)", calls.get(i)))
    cap_i, cap_note = _pick_capsid(genes, used, rep is not None)
    if cap_i is not None:
        used.add(cap_i)
        d = _gene_dict(genes[cap_i], n, "cap", "capsid", calls.get(cap_i))
        d["notes"] = d["notes"] + [cap_note]
        out_genes.append(d)
    main = [g for g in (rep, genes[cap_i] if cap_i is not None else None) if g is not None]
    for i, g in enumerate(genes):
        if i in used or any(_inside(g, h, n) for h in main):
            continue
        if g.finder != "orf" or len(g.protein) >= roles.MIN_REP_AA:
            out_genes.append(_gene_dict(g, n, "other", "", calls.get(i)))
    out_genes.sort(key=lambda d: (d["start"], d["strand"]))
    if rep is not None and rep_call.get("call") == "yes":
        is_cress = "yes"
    elif rep is not None or (origin is not None and origin.nonanucleotide in COMPONENT_NONANUCLEOTIDES):
        is_cress = "partial"
    else:
        is_cress = "no"
        origin = None
    cap = next((d for d in out_genes if d["role"] == "cap"), None)
    family = rep_call.get("family") if rep is not None else None
    return {
        "id": rec.id, "description": rec.description, "length": n, "topology": rec.topology,
        "topology_reason": rec.topology_reason, "is_cress": is_cress, "family": family,
        "genes": out_genes, "origin": origin.as_dict() if origin is not None else None,
        "organisation": roles.organisation(rep.strand if rep is not None else None, cap["strand"] if cap else None),
        "notes": notes, "sequence": seq,
    }


def strip_sequences(result: dict) -> dict:
    """A copy without the genome and protein sequences (for compact tool output)."""
    out = dict(result)
    out["records"] = [{k: v for k, v in r.items() if k != "sequence"}
                      | {"genes": [{k: v for k, v in g.items() if k != "protein"} for g in r["genes"]]}
                      for r in result["records"]]
    return out


def annotate_genome(sequence_text: str, circular: bool | None = None, include_sequences: bool = True) -> dict:
    """Annotate every nucleotide record of raw/FASTA/GenBank text (see the module docstring and docs/sequence.md).
    Records carry `sequence` and genes `protein` unless include_sequences is False."""
    records = read_genomes(sequence_text, circular)
    result = {"records": [annotate_record(r) for r in records],
              "rep_caller": BACKEND,
              "coordinates": "0-based start, exclusive end, + strand; end < start when a gene crosses the origin"}
    return result if include_sequences else strip_sequences(result)
