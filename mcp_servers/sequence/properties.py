"""Physico-chemical properties of a protein (Biopython ProtParam), without inventing neighbours.

ProtParam knows the 20 standard amino acids only. Dropping the other letters (X, B, Z, U, O) and analysing what is
left would join residues that are not neighbours: the instability index (Guruprasad et al. 1990) sums a weight for
every dipeptide, so ``MKXVL`` would gain the dipeptide KV that the protein does not have. Here:

- instability index: the dipeptides of each run of standard residues only (no pair across a non-standard letter),
  scaled by 10 / (number of standard residues), as ProtParam scales by 10 / length;
- molecular weight: the chain's real peptide bonds; B and Z at the mean of D/N and E/Q, U and O at their own
  masses, X at the mean residue mass of the 20 standard amino acids (reported as an estimate);
- pI, charge, GRAVY, aromaticity, extinction coefficients and composition: from the standard residues' counts
  (composition-based, so no neighbours are involved); the note says how many letters were left out.
"""

from __future__ import annotations

import re

from .parsing import STANDARD_AA

WATER = 18.01528


def _residue_masses() -> dict[str, float]:
    from Bio.Data.IUPACData import protein_weights

    res = {aa: w - WATER for aa, w in protein_weights.items()}  # free amino acid -> residue in a chain
    res["B"] = (res["D"] + res["N"]) / 2
    res["Z"] = (res["E"] + res["Q"]) / 2
    res["X"] = sum(res[aa] for aa in STANDARD_AA) / len(STANDARD_AA)
    return res


def molecular_weight(seq: str) -> float:
    """Average mass in daltons of the whole chain (residue masses + one water), estimates for B, Z and X."""
    masses = _residue_masses()
    return sum(masses[c] for c in seq) + WATER


def instability_index(seq: str) -> float | None:
    """Guruprasad instability index over the dipeptides that really occur between standard residues."""
    from Bio.SeqUtils.ProtParamData import DIWV

    n_std = sum(1 for c in seq if c in STANDARD_AA)
    if n_std < 2:
        return None
    total = 0.0
    for run in re.findall(f"[{STANDARD_AA}]+", seq):
        total += sum(DIWV[a][b] for a, b in zip(run, run[1:]))
    return 10.0 * total / n_std


def protein_properties(sequence: str) -> dict:
    """Length, molecular weight (Da, average masses), pI, composition and a few ProtParam indices (module docstring
    for how non-standard letters are handled)."""
    from Bio.SeqUtils.ProtParam import ProteinAnalysis

    seq = sequence.upper()
    std = "".join(c for c in seq if c in STANDARD_AA)
    excluded = {c: seq.count(c) for c in sorted(set(seq) - set(STANDARD_AA))}
    out: dict = {"length": len(seq), "excluded_letters": excluded}
    if not std:
        out.update(molecular_weight_da=None, isoelectric_point=None, composition={}, composition_percent={})
        return out
    pa = ProteinAnalysis(std)
    counts = {aa: std.count(aa) for aa in STANDARD_AA}
    eps_reduced, eps_cystines = pa.molar_extinction_coefficient()
    ii = instability_index(seq)
    out.update(
        molecular_weight_da=round(molecular_weight(seq), 2),
        isoelectric_point=round(pa.isoelectric_point(), 2),
        charge_at_ph7=round(pa.charge_at_pH(7.0), 2),
        gravy=round(pa.gravy(), 3),
        aromaticity=round(pa.aromaticity(), 4),
        instability_index=round(ii, 2) if ii is not None else None,
        extinction_coefficient_reduced=eps_reduced,
        extinction_coefficient_cystines=eps_cystines,
        composition=counts,
        composition_percent={aa: round(100.0 * n / len(std), 2) for aa, n in counts.items()},
    )
    if excluded:
        estimated = "; the weight counts X at the mean residue mass and B/Z at the mean of D/N and E/Q" if (
            set(excluded) & set("XBZ")) else ""
        out["note"] = (f"{sum(excluded.values())} ambiguous/non-standard residue(s) were left out of the pI, charge, "
                       "GRAVY and composition; the instability index uses only dipeptides between standard "
                       f"residues{estimated}.")
    return out
