"""Gene finding on both strands, with circular wrap: pyrodigal-gv (meta mode) plus an ATG..stop ORF scan.

Coordinates are 0-based, end exclusive, on the + strand; a gene that crosses the origin of a circular sequence has
``end < start`` (it runs start..len and 0..end). A circular sequence of length L is searched as ``seq + seq[:W]``
(W = min(L, 6,000) nt), so a gene that starts before the origin and ends after it is seen whole; genes that start in
the appended copy are duplicates and are dropped, as are genes cut by either end of the extended sequence.

Why both finders: pyrodigal's models are prokaryotic (RBS, GTG/TTG starts). On the 19 unspliced CDS of 100+ codons
of the test genomes (NCBI annotations: tests/data/sequences/genomes/ncbi_features.tsv and the PCV2 GenBank record)
pyrodigal-gv in meta mode (circular wrap as above) found 15 of the stop codons (it missed four ORFs that overlap
another gene: PCV2 ORF3, two begomovirus TrAP/AC2, the mastrevirus movement protein) and the NCBI start of 9 (GTG/TTG
or internal ATG starts; East African cassava mosaic Cameroon virus Rep: a TTG 84 codons upstream, across the
origin), while the most upstream ATG of the same stop gave the NCBI start for 18 of 19 (the exception: a begomovirus
capsid that NCBI starts at the second ATG, 10 codons down). Eukaryotic CRESS genes start at ATG, so each stop
codon's gene takes its coordinates from the ATG ORF when there is one (`finder` "pyrodigal-gv+atg"), from pyrodigal
otherwise ("pyrodigal-gv"); ATG ORFs that pyrodigal did not call are kept too ("orf").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from Bio.Seq import Seq

WRAP_NT = 6_000
MIN_ORF_AA = 60
STOPS = ("TAA", "TAG", "TGA")

_finder = None
_finder_lock = threading.Lock()


@dataclass
class Gene:
    start: int  # 0-based, + strand
    end: int  # exclusive; end < start when the gene crosses the origin
    strand: int  # 1 | -1
    protein: str
    finder: str  # pyrodigal-gv | pyrodigal | orf | splice
    exons: list[list[int]] | None = None
    notes: list[str] = field(default_factory=list)
    start_codon: str = "ATG"

    @property
    def wraps(self) -> bool:
        return self.end < self.start

    def nt_length(self, genome_length: int) -> int:
        return self.end - self.start if not self.wraps else genome_length - self.start + self.end

    def stop_key(self, genome_length: int) -> tuple[int, int]:
        """(strand, position of the last base of the stop codon): one key per reading frame end."""
        last = (self.end - 1) % genome_length if self.strand == 1 else self.start
        return self.strand, last


def _gene_finder():
    """A shared pyrodigal(-gv) meta-mode finder (thread-safe to share; created once)."""
    global _finder
    with _finder_lock:
        if _finder is None:
            try:
                import pyrodigal_gv

                _finder = ("pyrodigal-gv", pyrodigal_gv.ViralGeneFinder(meta=True, mask=True))
            except ImportError:  # pragma: no cover - pyrodigal-gv is a declared dependency
                import pyrodigal

                _finder = ("pyrodigal", pyrodigal.GeneFinder(meta=True, mask=True))
        return _finder


def _extended(seq: str, circular: bool) -> str:
    return seq + seq[: min(len(seq), WRAP_NT)] if circular else seq


def _map(start: int, end: int, n: int, circular: bool) -> tuple[int, int] | None:
    """Extended-sequence span -> genome span (modulo the length); None for spans longer than the genome."""
    if not circular:
        return start, end
    if end - start > n:
        return None
    a, b = start % n, end % n or n
    return a, b  # b < a: the span crosses the origin


def translate(nt: str) -> str:
    return str(Seq(nt).translate(table=1)).rstrip("*")


def _longest_per_stop(genes: list[Gene], n: int) -> list[Gene]:
    """One gene per (strand, stop codon): the longest (the wrap copy sees the whole upstream region)."""
    best: dict[tuple[int, int], Gene] = {}
    for g in genes:
        key = g.stop_key(n)
        if key not in best or len(g.protein) > len(best[key].protein):
            best[key] = g
    return list(best.values())


def _pyrodigal_genes(seq: str, circular: bool, keep_partial: bool = False) -> list[Gene]:
    name, finder = _gene_finder()
    ext = _extended(seq, circular)
    n = len(seq)
    out = []
    for g in finder.find_genes(ext.encode()):
        partial = g.partial_begin or g.partial_end
        if partial and (circular or not keep_partial):
            continue  # cut by an end: on a circular sequence the same gene is found whole in the other copy
        span = _map(g.begin - 1, g.end, n, circular)
        if span is None:
            continue
        gene = Gene(span[0], span[1], g.strand, g.translate(include_stop=False), name, start_codon=g.start_type)
        if partial:
            gene.notes.append("partial: runs into the end of the contig")
        out.append(gene)
    return _longest_per_stop(out, n)


def _orf_genes(seq: str, circular: bool, min_aa: int) -> list[Gene]:
    """Most-upstream-ATG ORFs that end at a stop codon, both strands, circular wrap as in the module docstring. On a
    linear sequence, reading frames that are open at an end are kept as partial genes running into it (a gene of a
    contig fragment): from the edge when no stop lies upstream, to the edge when none lies downstream."""
    ext = _extended(seq, circular)
    n, m = len(seq), len(ext)
    rc = str(Seq(ext).reverse_complement())
    out = []
    for strand, s in ((1, ext), (-1, rc)):
        for frame in range(3):
            prot = str(Seq(s[frame: frame + 3 * ((m - frame) // 3)]).translate(table=1))
            pos = 0
            for piece in prot.split("*"):
                stop_at = pos + len(piece)
                has_stop = stop_at < len(prot)
                open5 = not circular and pos == 0  # no stop upstream: the gene may start before the contig
                first = 0 if open5 else piece.find("M")
                if first >= 0 and len(piece) - first >= min_aa and (has_stop or not circular):
                    a = frame + 3 * (pos + first)
                    b = frame + 3 * stop_at + (3 if has_stop else 0)
                    span = _map(*((a, b) if strand == 1 else (m - b, m - a)), n, circular)
                    if span is not None:
                        gene = Gene(span[0], span[1], strand, piece[first:], "orf",
                                    start_codon="Edge" if open5 else "ATG")
                        if open5 or not has_stop:
                            gene.notes.append("partial: runs into the end of the contig")
                        out.append(gene)
                pos = stop_at + 1
    return _longest_per_stop(out, n)


def find_genes(seq: str, circular: bool, min_aa: int = MIN_ORF_AA, linear_partials: bool = False) -> list[Gene]:
    """One gene per stop codon found by pyrodigal or the ATG ORF scan, sorted by start. Coordinates come from the
    ATG ORF (the most upstream ATG) when there is one, else from pyrodigal; `finder` says who found the stop.
    `linear_partials` keeps pyrodigal's genes that run into an end of a linear contig (fragments of real genes)."""
    n = len(seq)
    predicted = {g.stop_key(n): g for g in _pyrodigal_genes(seq, circular, linear_partials)
                 if len(g.protein) >= min_aa}
    genes = []
    for g in _orf_genes(seq, circular, min_aa):
        p = predicted.pop(g.stop_key(n), None)
        if p is not None:
            g.finder = f"{p.finder}+atg"
            if p.start_codon != "Edge" and (p.start_codon != "ATG" or (p.start, p.end) != (g.start, g.end)):
                d = len(g.protein) - len(p.protein)
                where = f"{abs(d)} codons {'downstream of' if d > 0 else 'upstream of'}" if d else "at"
                g.notes.append(f"{p.finder} chose the {p.start_codon} start {where} the most upstream ATG (used here)")
        genes.append(g)
    genes.extend(predicted.values())
    genes.sort(key=lambda g: (g.start, g.strand))
    return genes


def subsequence(seq: str, start: int, end: int) -> str:
    """seq[start:end] on a circular sequence (end < start wraps)."""
    return seq[start:end] if end >= start else seq[start:] + seq[:end]


def gene_nt(seq: str, start: int, end: int, strand: int) -> str:
    nt = subsequence(seq, start, end)
    return nt if strand == 1 else str(Seq(nt).reverse_complement())
