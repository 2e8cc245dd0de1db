"""Mutation syntax and ESM mutation-effect scores (wt-marginals / masked-marginals of predict.py).

Syntax: a substitution is ``<wt><position><mt>`` with a 1-based position, e.g. ``K25A``. Substitutions joined by
``:`` form one variant (``K25A:G30D``) whose score is the sum of its substitutions' scores (additive model).
Several variants are separated by commas, semicolons, spaces or new lines. The wild-type letter must match the
sequence at that position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import MutationError
from .parsing import PROTEIN_LETTERS, STANDARD_AA

_SUB = re.compile(r"^([A-Za-z])(\d+)([A-Za-z])$")


@dataclass(frozen=True)
class Substitution:
    wt: str
    position: int  # 1-based
    mt: str

    def __str__(self) -> str:
        return f"{self.wt}{self.position}{self.mt}"


def parse_variants(spec: str | list[str]) -> list[list[Substitution]]:
    """'K25A:G30D, P4L' -> [[K25A, G30D], [P4L]]; syntax errors raise MutationError."""
    items = spec if isinstance(spec, list) else re.split(r"[,;\s]+", spec or "")
    variants = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        subs = []
        for part in item.split(":"):
            part = part.strip()
            m = _SUB.match(part)
            if not m:
                raise MutationError(
                    f"Cannot read mutation '{part}' (in '{item}'): write wild-type letter, 1-based position, new "
                    "letter, e.g. K25A; join substitutions of one variant with ':' (K25A:G30D).")
            wt, pos, mt = m.group(1).upper(), int(m.group(2)), m.group(3).upper()
            if mt not in STANDARD_AA:
                raise MutationError(f"Mutation '{part}': '{mt}' is not one of the 20 standard amino acids.")
            if wt not in PROTEIN_LETTERS:
                raise MutationError(f"Mutation '{part}': '{wt}' is not an amino acid letter.")
            subs.append(Substitution(wt, pos, mt))
        positions = [s.position for s in subs]
        if len(set(positions)) != len(positions):
            raise MutationError(f"Variant '{item}' changes the same position more than once.")
        variants.append(subs)
    if not variants:
        raise MutationError("No mutations given: write e.g. K25A, or K25A:G30D for a double mutant.")
    return variants


def check_variants(sequence: str, variants: list[list[Substitution]]) -> None:
    """Positions in range and wild-type letters matching the sequence; errors show what is there."""
    L = len(sequence)
    for subs in variants:
        for s in subs:
            if not 1 <= s.position <= L:
                raise MutationError(f"Mutation {s}: position {s.position} is outside the sequence (positions 1-{L}).")
            actual = sequence[s.position - 1]
            if actual != s.wt:
                lo, hi = max(0, s.position - 6), min(L, s.position + 5)
                context = sequence[lo:s.position - 1] + "[" + actual + "]" + sequence[s.position:hi]
                raise MutationError(
                    f"Mutation {s}: the sequence has '{actual}' at position {s.position}, not '{s.wt}' "
                    f"(context {context}). Positions are 1-based; did you mean {actual}{s.position}{s.mt}?")


def score_from_logprobs(variants, positions: list[int], lp20, lpwt) -> list[dict]:
    """Variant scores from per-position log-probs (`positions` are the 0-based rows of lp20/lpwt)."""
    row = {p: r for r, p in enumerate(positions)}
    out = []
    for subs in variants:
        comps = []
        total = 0.0
        for s in subs:
            r = row[s.position - 1]
            mt_lp = lp20[r, STANDARD_AA.index(s.mt)]
            wt_lp = lpwt[r]
            score = mt_lp - wt_lp  # float32, as predict.py's token_probs[..., mt] - token_probs[..., wt]
            total += float(score)
            comps.append({"mutation": str(s), "position": s.position, "wt": s.wt, "mt": s.mt,
                          "score": float(score), "logp_mt": float(mt_lp), "logp_wt": float(wt_lp)})
        out.append({"variant": ":".join(str(s) for s in subs), "score": total, "substitutions": comps})
    return out
