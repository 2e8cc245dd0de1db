"""Spliced Reps: a Rep ORF with the endonuclease domain only (RepA) continued, past a GT..AG intron, by a
downstream open stretch that carries the SF3 helicase (mastrevirus Rep, genomovirus and some cyclovirus Reps;
`downstream_splices`); and the reverse case, a short N-terminal exon spliced in front of an ORF that holds the rest
of the Rep (cyclovirus Reps: NCBI's Cyclovirus TN25 NC_038414.1 join(55..236,408..1086); `upstream_splices`).

Candidates (on the transcript strand): ORF A from its ATG; B, an open stretch (no stop) in any frame (A's own frame
only past A's stop) that overlaps the last 600 nt of A and runs at least 50 codons past A's stop. Every donor GT in
A and acceptor AG in B's stretch that keeps B's frame, gives an intron of 40-400 nt and no stop at the junction gets
a splice-site score: donor similarity to the consensus AG|GTAAGT, acceptor YAG|, the pyrimidine share of the 12 nt
before the AG (polypyrimidine tract), intron length in the typical 70-200 nt and, between otherwise equal splices,
the shorter intron (weights set on the four NCBI-annotated spliced Reps of tests/data/sequences/genomes).

The choice is made by the protein (`best_splice`): the best candidates by splice sites (TRIES per ORF and direction)
go to the Rep caller in one batch, and among the complete (`yes`) Reps the one with the most HUH + SF3 profile bits
plus SITE_WEIGHT x splice-site score wins; it must beat the unspliced ORF's bits (by a margin the caller sets). A
splice that drops conserved residues or keeps intron codons inside a domain loses bits, so the profile places the
junction where the consensus alone cannot (bench/genome_ncbi_eval.py on the NCBI per-family records). The first
exon's start is then bounded by the HUH domain (`_trim_start`). The junction stays a prediction (``notes`` says so,
with both scores): GT..AG is required, so a non-canonical intron is placed at the nearest canonical pair (Saccharum
streak virus: NCBI puts an AC donor; the prediction differs by a few codons at the junction). RepA, the unspliced
ORF, is reported too.
"""

from __future__ import annotations

from dataclasses import dataclass

from Bio.Seq import Seq

from .genes import Gene, gene_nt, translate

SEARCH_NT = 1_500
TRIES = 24  # candidate splices per ORF and direction sent to the Rep caller (best by splice sites)
SITE_WEIGHT = 2.0  # profile bits per splice-site score point (1, 2, 3 tried on the 108 NCBI genomovirus records)
MAX_NTERM = 30  # residues before the HUH domain: 95th percentile over 361 training Reps, 19 families (_trim_start)
DONOR_WINDOW = 600
INTRON_RANGE = (40, 400)
MIN_EXON2_CODONS = 50
DONOR_CONSENSUS = "GTAAGT"
PPT_WEIGHT = 2.0  # weight of the pyrimidine share of the 12 nt before the acceptor AG
LENGTH_WEIGHT = 0.005  # per intron nt: of two otherwise equal splices the shorter intron wins


def _transcript(seq: str, circular: bool, gene: Gene) -> tuple[str, int]:
    """The strand's sequence from the gene's start codon on (A first, then up to SEARCH_NT nt downstream); and
    the length of A including its stop."""
    n = len(seq)
    a_len = gene.nt_length(n)
    if gene.strand == 1:
        start, stop = gene.start, gene.start + a_len + SEARCH_NT
        text = "".join(seq[k % n] for k in range(start, stop)) if circular else seq[start:min(n, stop)]
    else:
        # on the - strand the gene's 5' end is its + strand end
        end = gene.end if gene.end > 0 else n
        lo = end - a_len - SEARCH_NT
        plus = "".join(seq[k % n] for k in range(lo, end)) if circular else seq[max(0, lo):end]
        text = str(Seq(plus).reverse_complement())
    return text, a_len


def _open_stretches(text: str, frame: int) -> list[tuple[int, int]]:
    """(first nt, end nt exclusive, before the stop) of stop-free stretches in a frame of text."""
    prot = str(Seq(text[frame: frame + 3 * ((len(text) - frame) // 3)]).translate(table=1))
    out, pos = [], 0
    for piece in prot.split("*"):
        out.append((frame + 3 * pos, frame + 3 * (pos + len(piece))))
        pos += len(piece) + 1
    return out


def _score(text: str, d: int, a: int) -> float:
    donor = text[d:d + 6]
    s = sum(1.0 for x, y in zip(donor, DONOR_CONSENSUS) if x == y)
    s += 0.5 * (text[d - 2:d] == "AG") + 1.0 * (text[a - 2] in "CT")
    tract = text[max(0, a - 13):a - 1]  # the polypyrimidine tract before the acceptor AG
    s += PPT_WEIGHT * sum(c in "CT" for c in tract) / max(1, len(tract))
    length = a + 1 - d
    s -= (0.0 if 70 <= length <= 200 else 1.0) + LENGTH_WEIGHT * length
    return s


def _to_plus(seq_len: int, gene: Gene, t0: int, t1: int, circular: bool) -> list[int]:
    """Transcript span [t0, t1) -> + strand [start, end) (modulo the length on a circle)."""
    n = seq_len
    if gene.strand == 1:
        a, b = gene.start + t0, gene.start + t1
    else:
        end = gene.end if gene.end > 0 else n
        a, b = end - t1, end - t0
    if circular:
        return [a % n, (b % n) or n]
    return [a, b]


def _candidates(text: str, a_len: int, frames=(1, 2)) -> list[tuple[float, int, int, int, str]]:
    """(score, donor, acceptor G, stretch end, protein) for every GT..AG splice that joins A to a stretch B (in
    another frame, or with frame 0 also past A's stop in A's own frame)."""
    out = []
    for frame in frames:
        for s0, s1 in _open_stretches(text, frame):
            if s1 < a_len + 3 * MIN_EXON2_CODONS or s0 > a_len + INTRON_RANGE[1] or s1 < a_len - DONOR_WINDOW:
                continue
            for d in range(max(3, a_len - DONOR_WINDOW), a_len - 3):
                if text[d:d + 2] != "GT":
                    continue
                for a in range(max(d + INTRON_RANGE[0] - 1, s0 - 1), min(d + INTRON_RANGE[1], s1 - 3)):
                    if text[a - 1:a + 1] != "AG" or (a + 1 - frame) % 3 != d % 3:
                        continue
                    joined = text[:d] + text[a + 1:s1 + 3]
                    prot = translate(joined)
                    if "*" in prot or len(prot) * 3 + 3 != len(joined):
                        continue
                    out.append((_score(text, d, a), d, a, s1, prot))
    out.sort(key=lambda c: (-c[0], c[2] - c[1]))
    return out


@dataclass
class Splice:
    """One candidate spliced reading: its splice-site score (`_score`), protein, exons (+ strand, transcript
    order) and a note naming the intron."""
    site_score: float
    protein: str
    exons: list[list[int]]
    note: str
    source: Gene  # the ORF it extends
    upstream: bool = False  # an N-terminal exon in front of `source` (else a helicase exon after it)


def downstream_splices(seq: str, circular: bool, gene: Gene, tries: int = TRIES) -> list[Splice]:
    """The `tries` best-scoring splices (by splice sites) that continue `gene` (an endonuclease ORF) past a GT..AG
    intron into a downstream open stretch in any frame."""
    text, a_len = _transcript(seq, circular, gene)
    out = []
    for score, d, a, s1, prot in _candidates(text, a_len, frames=(0, 1, 2))[:tries]:
        exons = [_to_plus(len(seq), gene, 0, d, circular), _to_plus(len(seq), gene, a + 1, s1 + 3, circular)]
        note = (f"predicted intron of {a + 1 - d} nt ({text[d:d + 6]}..{text[a - 5:a + 1]}, GT..AG) continuing the "
                "endonuclease ORF into the helicase exon; exons in transcript order; the unspliced ORF is reported "
                "as RepA")
        out.append(Splice(score, prot, exons, note, gene))
    return out


UPSTREAM_NT = 750  # how far upstream of a C-terminal Rep ORF's start codon an N-terminal exon is sought


def _upstream_text(seq: str, circular: bool, gene: Gene) -> tuple[str, int, int]:
    """Transcript-strand text from UPSTREAM_NT nt before the gene's start codon to its stop; the offset of the gene's
    start codon in it; and the + strand index of the text's first base (strand 1) or last base + 1 (strand -1)."""
    n = len(seq)
    length = gene.nt_length(n)
    if gene.strand == 1:
        lo = gene.start - UPSTREAM_NT if circular else max(0, gene.start - UPSTREAM_NT)
        return "".join(seq[k % n] for k in range(lo, gene.start + length)), gene.start - lo, lo
    end = gene.end if gene.end > 0 else n
    hi = end + UPSTREAM_NT if circular else min(n, end + UPSTREAM_NT)
    plus = "".join(seq[k % n] for k in range(end - length, hi))
    return str(Seq(plus).reverse_complement()), hi - end, hi


def _upstream_candidates(text: str, off: int) -> list[tuple[float, int, int, int, int, str]]:
    """(score, exon-1 start p, donor, acceptor, stretch end, protein), text positions relative to p, for every
    ATG-started open reading frame that ends upstream of the gene's (in any frame; in the gene's own frame the
    intron removes the stop between them), spliced GT..AG into the gene's frame and running to its stop (the end of
    `text`)."""
    out = []
    stop_at = len(text) - 3
    for frame in (0, 1, 2):
        for s0, s1 in _open_stretches(text, frame):
            p = text.find("ATG", s0, min(s1, off))
            while p != -1 and (p - frame) % 3:
                p = text.find("ATG", p + 1, min(s1, off))
            if p == -1 or s1 + 3 > len(text):
                continue
            for c in _candidates(text[p:], s1 + 3 - p, frames=(0, 1, 2)):
                if p + c[3] == stop_at:  # exon 2 ends at the gene's own stop codon
                    out.append((c[0], p, c[1], c[2], c[3], c[4]))
    out.sort(key=lambda c: (-c[0], c[3] - c[2]))
    return out


def upstream_splices(seq: str, circular: bool, gene: Gene, tries: int = TRIES) -> list[Splice]:
    """The `tries` best-scoring splices (by splice sites) that put an upstream N-terminal exon in front of `gene` (a
    Rep ORF whose endonuclease domain is missing or cut at its N-terminus)."""
    text, off, anchor = _upstream_text(seq, circular, gene)
    n, out = len(seq), []
    for score, p, d, a, s1, prot in _upstream_candidates(text, off)[:tries]:
        spans = [(p, p + d), (p + a + 1, p + s1 + 3)]  # transcript order
        if gene.strand == 1:
            exons = [[anchor + t0, anchor + t1] for t0, t1 in spans]
        else:
            exons = [[anchor - t1, anchor - t0] for t0, t1 in spans]
        if circular:
            exons = [[x % n, (y % n) or n] for x, y in exons]
        note = (f"predicted intron of {a + 1 - d} nt ({text[p + d:p + d + 6]}..{text[p + a - 5:p + a + 1]}, GT..AG) "
                "joining an upstream N-terminal exon to the Rep ORF; exons in transcript order")
        out.append(Splice(score, prot, exons, note, gene, upstream=True))
    return out


def rep_bits(call: dict) -> float:
    """The protein's Rep evidence in bits: HUH + SF3 domain scores of a complete (`yes`) call, else 0."""
    if call.get("call") != "yes":
        return 0.0
    return sum(float(d.get("score") or 0.0) for d in call.get("domains") or [])


def _trim_start(seq: str, circular: bool, strand: int, sp: Splice, huh_start: int) -> Splice:
    """Move the start codon of the first exon down to the first in-frame ATG that leaves at most MAX_NTERM residues
    before the HUH domain, when the exon's first ATG leaves more (an open stretch that runs far upstream: Human
    cyclovirus VS5700009, NC_021568.1, whose stretch runs 53 codons upstream of NCBI's ATG, across the origin).
    MAX_NTERM is the 95th percentile of the HUH domain start in training Reps (bench/rep_nterm.py)."""
    first = sp.exons[0]
    ex_aa = ((first[1] - first[0]) % len(seq) or len(seq)) // 3
    lo = huh_start - MAX_NTERM
    if lo <= 0:
        return sp
    m = next((i for i in range(lo, min(huh_start, ex_aa - 1) + 1) if sp.protein[i] == "M"), None)
    if m is None:
        return sp
    n = len(seq)
    if strand == 1:
        new = [(first[0] + 3 * m) % n if circular else first[0] + 3 * m, first[1]]
    else:
        end = first[1] - 3 * m
        new = [first[0], (end % n) or n if circular else end]
    note = sp.note + (f"; start codon moved {m} codons down to the first ATG within {MAX_NTERM} residues of the "
                      "HUH domain (the exon's first ATG left a longer N-terminus than CRESS Reps have)")
    return Splice(sp.site_score, sp.protein[m:], [new] + sp.exons[1:], note, sp.source, sp.upstream)


def best_splice(seq: str, circular: bool, cands: list[Splice], call_reps,
                baseline: float = 0.0) -> tuple[Gene, dict, Splice] | None:
    """(spliced Rep gene, its call with family, the candidate) for the candidate with the highest Rep evidence
    (`rep_bits`: HUH + SF3 profile bits of a complete Rep) plus splice-site score, when its bits exceed `baseline`
    (e.g. the unspliced ORF's bits + a required gain); else None. One batch call for all candidates."""
    if not cands:
        return None
    calls = call_reps([(f"splice{k}", c.protein) for k, c in enumerate(cands)], with_family=False)
    scored = [(rep_bits(call) + SITE_WEIGHT * c.site_score, rep_bits(call), k)
              for k, (c, call) in enumerate(zip(cands, calls)) if call.get("call") == "yes"]
    if not scored:
        return None
    _, bits, k = max(scored)
    if bits <= baseline:
        return None
    sp, call = cands[k], calls[k]
    huh = next((d for d in call.get("domains") or [] if d.get("domain", "").startswith("HUH")), None)
    if huh is not None:
        sp = _trim_start(seq, circular, sp.source.strand, sp, int(huh["start"]))
    call = call_reps([("spliced", sp.protein)])[0]  # with the family
    strand, exons = sp.source.strand, sp.exons
    start, end = (exons[0][0], exons[-1][1]) if strand == 1 else (exons[-1][0], exons[0][1])
    note = sp.note + (f"; chosen by Rep profile bits ({bits:.1f}) + {SITE_WEIGHT:g} x splice-site score "
                      f"({sp.site_score:.1f})")
    return Gene(start, end, strand, sp.protein, "splice", exons=exons, notes=[note]), call, sp


def spliced_nt(seq: str, gene: Gene) -> str:
    """The coding sequence of a gene with exons (transcript order), for checks."""
    return "".join(gene_nt(seq, a, b, gene.strand) for a, b in gene.exons or [[gene.start, gene.end]])
