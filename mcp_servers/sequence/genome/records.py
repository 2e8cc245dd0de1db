"""Nucleotide records for genome annotation: reading raw/FASTA/GenBank text, checks, and the topology rule.

Topology (docs/sequence.md, "Genome annotation"):
- GenBank records keep the LOCUS line's topology (circular / linear);
- `circular=True` or `circular=False` from the caller applies to every record;
- otherwise a record is taken as circular when it looks like a complete CRESS-sized molecule: 1,500-6,500 nt
  (circo-, cyclo-, genomo-, smaco- and geminiviruses 1.7-3 kb, bacilladnaviruses ~6 kb) with no N (a gap: the
  assembly is not closed) and at most 0.5% other IUPAC codes (R, Y, ...: polymorphic positions of a consensus, as in
  some complete GenBank genomes). A clean record of 800-1,500 nt (nanovirus segments and satellites are ~1 kb, but so
  are many contig fragments) is circular only when a family nonanucleotide stem-loop is found on the circle
  (`tentative`; annotate.py decides). Anything else is linear (a contig or a fragment).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..parsing import parse_text

CIRCULAR_MIN_NT = 1_500
SMALL_CIRCULAR_MIN_NT = 800
CIRCULAR_MAX_NT = 6_500
MIN_GENOME_NT = 100
MAX_GENOME_NT = 2_000_000
MAX_AMBIGUOUS_FRACTION = 0.10
MAX_POLYMORPHIC_FRACTION = 0.005
UNAMBIGUOUS = frozenset("ACGT")


@dataclass
class GenomeRecord:
    id: str
    sequence: str  # upper case, U -> T
    description: str = ""
    source: str = "raw"  # raw | fasta | genbank
    declared_topology: str | None = None  # what a GenBank LOCUS line said
    topology: str = "linear"
    topology_reason: str = ""
    tentative: bool = False  # circular only if a family nonanucleotide stem-loop is found (800-1,500 nt)

    @property
    def circular(self) -> bool:
        return self.topology == "circular"

    def __len__(self) -> int:
        return len(self.sequence)


def ambiguous_fraction(seq: str) -> float:
    return sum(1 for c in seq if c not in UNAMBIGUOUS) / max(1, len(seq))


def decide_topology(rec: GenomeRecord, circular: bool | None) -> None:
    """Set rec.topology and rec.topology_reason by the rule in the module docstring."""
    n = len(rec)
    if circular is not None:
        rec.topology = "circular" if circular else "linear"
        rec.topology_reason = "as requested"
    elif rec.declared_topology in ("circular", "linear"):
        rec.topology = rec.declared_topology
        rec.topology_reason = "GenBank LOCUS line"
    else:
        clean = "N" not in rec.sequence and ambiguous_fraction(rec.sequence) <= MAX_POLYMORPHIC_FRACTION
        if clean and CIRCULAR_MIN_NT <= n <= CIRCULAR_MAX_NT:
            rec.topology = "circular"
            rec.topology_reason = (f"default: {n} nt without gaps (N) is a complete CRESS-sized molecule "
                                   f"({CIRCULAR_MIN_NT}-{CIRCULAR_MAX_NT} nt); pass circular=false for a fragment")
        elif clean and SMALL_CIRCULAR_MIN_NT <= n < CIRCULAR_MIN_NT:
            rec.topology, rec.tentative = "circular", True
            rec.topology_reason = (f"default: {n} nt (segment/satellite size) is circular only with a family "
                                   "nonanucleotide stem-loop")
        else:
            rec.topology = "linear"
            why = (f"outside {SMALL_CIRCULAR_MIN_NT}-{CIRCULAR_MAX_NT} nt" if not clean or n > CIRCULAR_MAX_NT
                   or n < SMALL_CIRCULAR_MIN_NT else "")
            why = why if clean else "has N (gaps) or over 0.5% ambiguity codes: an unclosed assembly"
            rec.topology_reason = f"default: {n} nt, {why}; pass circular=true if it is a closed molecule"


def read_genomes(text: str, circular: bool | None = None) -> list[GenomeRecord]:
    """Nucleotide records from raw, FASTA or GenBank text; clear errors for proteins, short or ambiguous input."""
    parsed = parse_text(text, offer_orfs=False)
    if parsed.proteins:
        ids = ", ".join(f"'{p.id}' ({len(p)} aa)" for p in parsed.proteins[:5])
        raise InputError(
            f"annotate_genome needs nucleotide sequences (a genome or contig as DNA letters, FASTA or GenBank), but "
            f"record(s) {ids} are protein sequences. Use annotate_rep for a protein.")
    out = []
    for n in parsed.nucleotides:
        seq = n.sequence.upper().replace("U", "T")
        if len(seq) < MIN_GENOME_NT:
            raise InputError(f"Record '{n.id}' has {len(seq)} nt; genome annotation needs at least {MIN_GENOME_NT} nt.")
        if len(seq) > MAX_GENOME_NT:
            raise InputError(f"Record '{n.id}' has {len(seq):,} nt, above the {MAX_GENOME_NT:,} nt limit of genome "
                             "annotation (CRESS genomes are 0.8-6.5 kb): split it into contigs.")
        amb = ambiguous_fraction(seq)
        if amb > MAX_AMBIGUOUS_FRACTION:
            raise InputError(f"Record '{n.id}' has {100 * amb:.1f}% ambiguous bases (N or other IUPAC codes), above "
                             f"the {100 * MAX_AMBIGUOUS_FRACTION:.0f}% limit: too ambiguous to annotate.")
        rec = GenomeRecord(id=n.id, sequence=seq, description=n.description, source=n.source,
                           declared_topology=n.topology)
        decide_topology(rec, circular)
        out.append(rec)
    if not out:
        raise InputError("No nucleotide record found in the input.")
    return out
