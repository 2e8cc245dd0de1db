"""The rolling-circle origin: a nonanucleotide in the loop of a stem-loop, checked by folding (ViennaRNA, DNA).

Search: both strands of the whole sequence (with the wrap of a circular one) for the family nonanucleotides
(`NONANUCLEOTIDES`) and, only when the caller allows it (a Rep was found), for the generic ``NANTANTAN``. Each hit
is folded with ``flank`` nt on either side using ViennaRNA's DNA parameters (Mathews 2004) twice: freely, and with
the nine bases held unpaired (as they are when Rep binds and nicks). A hit is kept when the constrained structure
has a hairpin whose loop (`LOOP_RANGE` nt) holds the nonanucleotide, closed by a stem of at least `MIN_STEM`
consecutive base pairs, and costs at most `MAX_DDG` kcal/mol more than the free fold (the stem-loop is a real
fold of the region, not one forced by the constraint; in PCV2 the free fold pairs three loop bases into a tiny
hairpin and the constrained one is 0.5 kcal/mol above it). The best hit is a family nonanucleotide before a generic
one, then the longer stem, then the lower folding energy.

Coordinates: ``start`` is the 0-based + strand position of the nonanucleotide's leftmost base (for a hit on the
- strand, the reverse complement of ``seq[start:start+9]`` is the nonanucleotide). Rep nicks between nonanucleotide
positions 7 and 8 (read on its own strand); ``nick_after`` is the 0-based + strand index of the base on the left of
the nick (for a + strand hit ``start + 6``; for a - strand hit ``start + 1``), modulo the length on a circle.
Several hits can share one stem-loop (e.g. TAATATTAC on one strand overlaps ATAATATTA's complement); a consensus
nonanucleotide wins over a variant, then the longer stem, then the lower energy.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from Bio.Seq import Seq

# Conserved nonanucleotides at the nick site, with the groups they are reported for (docs/sequence.md), in order of
# preference: the consensus forms first, then the variants reported for some genomoviruses/cycloviruses.
NONANUCLEOTIDES: dict[str, str] = {
    "TAGTATTAC": "circoviruses (PCV1, BFDV), nanoviruses, alphasatellites",
    "TAATATTAC": "geminiviruses (begomo-, curto-, mastreviruses), genomoviruses, cycloviruses",
    "AAGTATTAC": "porcine circovirus 2",
    "TATTATTAC": "babuviruses (banana bunchy top virus) and nanoviruses",
    "TAATGTTAT": "genomoviruses (variant)",
    "TAATATTAT": "genomoviruses (variant)",
    "TAACATTAT": "genomoviruses (variant)",
    "TAATACTAT": "cycloviruses (variant)",
    # NCBI NC_040336.1 (stem_loop join(2538..2546,1..22)); the stem-loop nonanucleotide of 17 of the 51 NCBI
    # smacovirus genomes of github.com/abelardoacm/ssDNA_viral_pangenomics (bench/genome_ncbi_eval.py)
    "TAGTGTTAC": "smacoviruses",
}
PRIORITY = {k: len(NONANUCLEOTIDES) - i for i, k in enumerate(NONANUCLEOTIDES)}
GENERIC = re.compile(r"(?=(.A.TA.TA.))")
MIN_STEM = 5
MAX_DDG = 3.0
LOOP_RANGE = (9, 16)
FLANK = 30

_rna_lock = threading.Lock()


@dataclass
class Origin:
    nonanucleotide: str
    start: int
    strand: int
    stem_length: int
    loop_length: int
    nick_after: int
    known: bool
    energy: float
    ddg: float  # constrained minus free folding energy
    structure: str  # dot-bracket of the folded window
    window_start: int  # + strand index of the window's first base (for the hairpin's own coordinates)
    stem_loop: tuple[int, int]  # 0-based + strand span of the hairpin (stem + loop), end exclusive, may wrap

    def as_dict(self) -> dict:
        return {"nonanucleotide": self.nonanucleotide, "start": self.start, "strand": self.strand,
                "stem_length": self.stem_length, "loop_length": self.loop_length, "nick_after": self.nick_after,
                "family_motif": self.known, "groups": NONANUCLEOTIDES.get(self.nonanucleotide, "generic NANTANTAN"),
                "fold_energy_kcal_mol": round(self.energy, 2), "ddg_unpaired_loop_kcal_mol": round(self.ddg, 2),
                "stem_loop": list(self.stem_loop)}


def _fold_all(windows: list[tuple[str, int]]) -> list[tuple[str, float, float]]:
    """(constrained structure, its energy, free MFE) for each (DNA window, 0-based start of the 9 unpaired bases),
    with ViennaRNA's Mathews 2004 DNA parameters (the RNA defaults are restored afterwards)."""
    import RNA

    with _rna_lock:
        RNA.params_load_DNA_Mathews2004()
        try:
            out = []
            for w, off in windows:
                fc = RNA.fold_compound(w)
                _, free = fc.mfe()
                for k in range(off, off + 9):
                    fc.hc_add_up(k + 1)
                structure, energy = fc.mfe()
                out.append((structure, float(energy), float(free)))
            return out
        finally:
            RNA.params_load_RNA_Turner2004()


def _pairs(structure: str) -> list[int]:
    table = [-1] * len(structure)
    stack = []
    for i, c in enumerate(structure):
        if c == "(":
            stack.append(i)
        elif c == ")":
            j = stack.pop()
            table[i], table[j] = j, i
    return table


def hairpin_around(structure: str, lo: int, hi: int) -> tuple[int, int, int] | None:
    """(i, j, stem) for the hairpin whose loop holds window positions lo..hi-1 (at most 2 of them paired, at the
    edges), or None. i, j: the closing pair; stem: consecutive stacked pairs from it outwards."""
    pt = _pairs(structure)
    i = lo + 1  # allow the first base of the nonanucleotide to be paired
    while i >= 0 and pt[i] == -1:
        i -= 1
    for i0 in (i,):
        if i0 < 0 or pt[i0] < hi - 1:
            return None
        j0 = pt[i0]
        inner = [k for k in range(i0 + 1, j0) if pt[k] != -1]
        if inner:
            return None  # not a hairpin loop (a multiloop or an interior structure)
        paired_motif = sum(1 for k in range(lo, hi) if not i0 < k < j0)
        if paired_motif > 2:
            return None
        stem = 0
        a, b = i0, j0
        while a >= 0 and b < len(pt) and pt[a] == b:
            stem += 1
            a, b = a - 1, b + 1
        return i0, j0, stem
    return None


def _candidates(seq: str, circular: bool, generic: bool) -> list[tuple[int, int, str, bool]]:
    """(plus start, strand, nonanucleotide, known) for every hit on either strand."""
    n = len(seq)
    ext = seq + seq[:8] if circular else seq
    rc = str(Seq(ext).reverse_complement())
    m = len(ext)
    hits: dict[tuple[int, int], tuple[str, bool]] = {}
    for strand, s in ((1, ext), (-1, rc)):
        for pat in NONANUCLEOTIDES:
            for mt in re.finditer(f"(?={pat})", s):
                p = mt.start() if strand == 1 else m - mt.start() - 9
                hits[(p % n, strand)] = (pat, True)
        if generic:
            for mt in GENERIC.finditer(s):
                p = mt.start() if strand == 1 else m - mt.start() - 9
                hits.setdefault((p % n, strand), (mt.group(1), False))
    return [(p, st, nona, known) for (p, st), (nona, known) in sorted(hits.items())]


def _window(seq: str, circular: bool, start: int, flank: int) -> tuple[str, int]:
    """(window text on the + strand, + strand index of its first base) around seq[start:start+9]."""
    n = len(seq)
    if circular:
        a = start - flank
        return "".join(seq[(a + k) % n] for k in range(9 + 2 * flank)), a % n
    a, b = max(0, start - flank), min(n, start + 9 + flank)
    return seq[a:b], a


def _key(o: Origin) -> tuple:
    consensus = PRIORITY.get(o.nonanucleotide, 0) > PRIORITY["TATTATTAC"] - 1
    return (o.known, consensus, o.stem_length, -o.energy, PRIORITY.get(o.nonanucleotide, 0))


def find_origin(seq: str, circular: bool, generic: bool = False, flank: int = FLANK) -> Origin | None:
    """The best nonanucleotide stem-loop (see the module docstring), or None."""
    n = len(seq)
    cands = _candidates(seq, circular, generic)
    if not cands:
        return None
    jobs = []
    for p, strand, nona, known in cands:
        text, w0 = _window(seq, circular, p, flank)
        if strand == -1:
            text = str(Seq(text).reverse_complement())
        off = (p - w0) % n if strand == 1 else len(text) - ((p - w0) % n) - 9
        jobs.append((p, strand, nona, known, text, w0, off))
    folded = _fold_all([(j[4], j[6]) for j in jobs])
    best: Origin | None = None
    for (p, strand, nona, known, text, w0, off), (structure, energy, free) in zip(jobs, folded):
        if energy - free > MAX_DDG:
            continue
        hp = hairpin_around(structure, off, off + 9)
        if hp is None:
            continue
        i, j, stem = hp
        loop = j - i - 1
        if stem < MIN_STEM or not LOOP_RANGE[0] <= loop <= LOOP_RANGE[1]:
            continue
        outer_a, outer_b = i - stem + 1, j + stem  # window coords of the hairpin, on the hit's strand
        if strand == 1:
            span = ((w0 + outer_a) % n, (w0 + outer_b) % n or n)
            nick = (p + 6) % n
        else:
            L = len(text)
            span = ((w0 + L - outer_b) % n, (w0 + L - outer_a) % n or n)
            nick = (p + 1) % n
        cand = Origin(nona, p, strand, stem, loop, nick, known, energy, energy - free, structure, w0, span)
        if best is None or _key(cand) > _key(best):
            best = cand
    return best
