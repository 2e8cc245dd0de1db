"""Spliced Reps: a Rep ORF with the endonuclease domain only (RepA) continued, past a GT..AG intron, by a
downstream ORF in another frame that carries the SF3 helicase (mastrevirus Rep, genomovirus and some cyclovirus
Reps); and the reverse case, a short N-terminal exon spliced in front of an ORF that holds the rest of the Rep
(cyclovirus Reps: NCBI's Cyclovirus TN25 NC_038414.1 join(55..236,408..1086), PKgoat21 NC_014927.1
join(1..164,334..1012)), `splice_upstream`.

`splice_rep(seq, circular, gene, call_rep)` works on the transcript strand: ORF A (the RepA candidate) from its ATG;
B, an open stretch (no stop) in one of the other two frames that overlaps the last 600 nt of A and runs at least
100 codons past A's stop. Every donor GT in A and acceptor AG in B's stretch that keeps B's frame, gives an intron
of 40-400 nt and no stop at the junction is scored: donor similarity to the consensus AG|GTAAGT, acceptor YAG|,
the pyrimidine share of the 12 nt before the AG (polypyrimidine tract), intron length in the typical 70-200 nt and,
between otherwise equal splices, the shorter intron (weights set on the four NCBI-annotated spliced Reps of
tests/data/sequences/genomes; checked on the NCBI per-family records by bench/genome_ncbi_eval.py). The best-scoring splices go to the Rep caller; the first that is a
complete Rep gives the exons. The junction is a prediction (``notes`` says so): GT..AG is required, so a
non-canonical intron is placed at the nearest canonical pair (the NCBI record of Saccharum streak virus puts its
intron 86 nt long with an AC donor; the prediction here differs by a few codons at the junction). RepA, the
unspliced ORF, is reported as well.
"""

from __future__ import annotations

from Bio.Seq import Seq

from .genes import Gene, gene_nt, translate

SEARCH_NT = 1_500
DONOR_WINDOW = 600
INTRON_RANGE = (40, 400)
MIN_EXON2_CODONS = 100
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


def _complete(call: dict, min_coverage: float) -> bool:
    """A `yes` call whose reported domains (profile caller) each cover at least `min_coverage` of their profile."""
    return call.get("call") == "yes" and all(d.get("profile_coverage", 1.0) >= min_coverage
                                             for d in call.get("domains") or [])


def splice_rep(seq: str, circular: bool, gene: Gene, call_reps, tries: int = 24,
               min_coverage: float = 0.0) -> tuple[Gene, dict] | None:
    """(spliced Rep gene, its Rep call) when a spliced reading of `gene` is a complete Rep (each domain covering
    at least `min_coverage` of its profile), else None. The `tries` best-scoring splices go to the Rep caller
    (`call_reps`, one batch); the best-scoring complete Rep wins."""
    text, a_len = _transcript(seq, circular, gene)
    cands = _candidates(text, a_len, frames=(0, 1, 2))[:tries]
    calls = call_reps([(f"splice{k}", c[4]) for k, c in enumerate(cands)], with_family=False)
    for (_, d, a, s1, prot), call in zip(cands, calls):
        if not _complete(call, min_coverage):
            continue
        call = call_reps([("spliced", prot)])[0]  # with the family
        n = len(seq)
        exons = [_to_plus(n, gene, 0, d, circular), _to_plus(n, gene, a + 1, s1 + 3, circular)]
        start, end = (exons[0][0], exons[1][1]) if gene.strand == 1 else (exons[1][0], exons[0][1])
        note = (f"predicted intron of {a + 1 - d} nt ({text[d:d + 6]}..{text[a - 5:a + 1]}, GT..AG); exons in "
                "transcript order; the unspliced ORF is reported as RepA")
        return Gene(start, end, gene.strand, prot, "splice", exons=exons, notes=[note]), call
    return None


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


def splice_upstream(seq: str, circular: bool, gene: Gene, call_reps, tries: int = 24,
                    min_coverage: float = 0.0) -> tuple[Gene, dict] | None:
    """(spliced Rep gene, its call) when an N-terminal exon upstream of `gene` (a Rep ORF whose endonuclease domain
    is missing or cut at its N-terminus), joined GT..AG to it, gives a complete Rep (as in `splice_rep`); else
    None."""
    text, off, anchor = _upstream_text(seq, circular, gene)
    cands = _upstream_candidates(text, off)[:tries]
    calls = call_reps([(f"upstream{k}", c[5]) for k, c in enumerate(cands)], with_family=False)
    n = len(seq)
    for (_, p, d, a, s1, prot), call in zip(cands, calls):
        if not _complete(call, min_coverage):
            continue
        spans = [(p, p + d), (p + a + 1, p + s1 + 3)]  # transcript order
        if gene.strand == 1:
            exons = [[anchor + t0, anchor + t1] for t0, t1 in spans]
        else:
            exons = [[anchor - t1, anchor - t0] for t0, t1 in spans]
        if circular:
            exons = [[x % n, (y % n) or n] for x, y in exons]
        start, end = (exons[0][0], exons[1][1]) if gene.strand == 1 else (exons[1][0], exons[0][1])
        note = (f"predicted intron of {a + 1 - d} nt ({text[p + d:p + d + 6]}..{text[p + a - 5:p + a + 1]}, GT..AG) "
                "joining an upstream N-terminal exon to the Rep ORF; exons in transcript order")
        return Gene(start, end, gene.strand, prot, "splice", exons=exons, notes=[note]), call_reps(
            [("spliced", prot)])[0]
    return None


def spliced_nt(seq: str, gene: Gene) -> str:
    """The coding sequence of a gene with exons (transcript order), for checks."""
    return "".join(gene_nt(seq, a, b, gene.strand) for a, b in gene.exons or [[gene.start, gene.end]])
