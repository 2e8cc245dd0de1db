"""Physico-chemical properties of a protein (Biopython ProtParam)."""

from __future__ import annotations

from .parsing import STANDARD_AA


def protein_properties(sequence: str) -> dict:
    """Length, molecular weight (Da, average masses), pI, composition and a few ProtParam indices.

    ProtParam only knows the 20 standard amino acids: ambiguous letters (X, B, Z, U, O) are left out of the
    calculations and listed under `excluded_letters`.
    """
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
    out.update(
        molecular_weight_da=round(pa.molecular_weight(), 2),
        isoelectric_point=round(pa.isoelectric_point(), 2),
        charge_at_ph7=round(pa.charge_at_pH(7.0), 2),
        gravy=round(pa.gravy(), 3),
        aromaticity=round(pa.aromaticity(), 4),
        instability_index=round(pa.instability_index(), 2),
        extinction_coefficient_reduced=eps_reduced,
        extinction_coefficient_cystines=eps_cystines,
        composition=counts,
        composition_percent={aa: round(100.0 * n / len(std), 2) for aa, n in counts.items()},
    )
    if excluded:
        out["note"] = (f"{sum(excluded.values())} ambiguous/non-standard residue(s) were left out of the weight, pI "
                       "and indices.")
    return out
