"""Which gene is the Rep, which the capsid, and what the genome organisation is.

Rep: every gene of at least `MIN_REP_AA` residues goes to the Rep caller; the best call wins (yes > partial;
``huh_only`` - an HUH endonuclease without an SF3 helicase, as in phage/plasmid Reps - and ``no`` never make a
gene a Rep). A ``partial`` call (endonuclease domain without a complete helicase: RepA, a truncated Rep) only
makes a Rep when the genome supports it: a spliced reading of that ORF is a complete Rep, the ORF runs into the
end of a linear contig, or a family nonanucleotide stem-loop origin is present.

Capsid: first by similarity to CRESS capsid references (capsid.py). When nothing hits and the genome has a Rep,
the fallback is the capsids' arginine/lysine-rich N-terminus that binds the genome: among the non-Rep genes of
`MIN_CAP_AA`-`MAX_CAP_AA` residues, the one with the highest share of R+K in its first 60 residues, when that share
is at least `MIN_CAP_BASIC` (the capsids of the test genomes have 25-35%); the largest non-Rep ORF is not assumed
to be the capsid. Without a Rep there is no fallback (a begomovirus DNA-B's nuclear shuttle protein is as basic).
"""

from __future__ import annotations

MIN_REP_AA = 100
MIN_CAP_AA = 100
MAX_CAP_AA = 800
CAP_NTERM = 60
MIN_CAP_BASIC = 0.22


def basic_share(protein: str, k: int = CAP_NTERM) -> float:
    head = protein[:k]
    return sum(1 for c in head if c in "RK") / max(1, len(head))


def pick_capsid(proteins: list[tuple[int, str]]) -> tuple[int, float] | None:
    """(index, N-terminal R+K share) of the capsid among (index, protein) candidates, or None."""
    best = None
    for i, prot in proteins:
        if not MIN_CAP_AA <= len(prot) <= MAX_CAP_AA:
            continue
        share = basic_share(prot)
        if share >= MIN_CAP_BASIC and (best is None or share > best[1]):
            best = (i, share)
    return best


def organisation(rep_strand: int | None, cap_strand: int | None) -> str | None:
    """ambisense (Rep and capsid on opposite strands) / unisense (same strand) / None when either is missing."""
    if rep_strand is None or cap_strand is None:
        return None
    return "ambisense" if rep_strand != cap_strand else "unisense"
