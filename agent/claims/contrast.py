"""Counterfactual contrast: does the cited text support the claim better than the claim with one direction word
flipped or one negation removed?

A fixed rule ("the claim negates, the text does not") fires on many true claims, because a conclusion rarely
repeats its source word for word. Here the passage judges: each variant of the claim is scored against the same
passage (MiniLM similarity to its best sentence, and the direction words that stand near the claim's context
words), and a claim that its own variant beats is likely wrong. Pure functions; vectors come from the caller.
"""

from __future__ import annotations

import re

from agent.claims import features as F

_PAIRS = [("increased", "decreased"), ("increase", "decrease"), ("increases", "decreases"),
          ("increasing", "decreasing"), ("higher", "lower"), ("highest", "lowest"), ("more", "less"),
          ("greater", "smaller"), ("larger", "smaller"), ("improved", "worsened"), ("improves", "worsens"),
          ("improve", "worsen"), ("better", "worse"), ("reduced", "increased"), ("reduces", "increases"),
          ("reduce", "increase"), ("reduction", "increase"), ("upregulated", "downregulated"),
          ("up-regulated", "down-regulated"), ("positive", "negative"), ("positively", "negatively"),
          ("longer", "shorter"), ("fewer", "more"), ("elevated", "reduced"), ("superior", "inferior"),
          ("beneficial", "harmful"), ("effective", "ineffective"), ("rose", "fell"), ("enhanced", "diminished"),
          ("safe", "unsafe"), ("favorable", "unfavorable"), ("above", "below")]
OPPOSITE: dict[str, str] = {}
for _a, _b in _PAIRS:
    OPPOSITE.setdefault(_a, _b)
    OPPOSITE.setdefault(_b, _a)
_OPP_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, OPPOSITE), key=len, reverse=True)) + r")\b", re.I)
# a negation that can be dropped and leave a grammatical positive sentence
_NEG_DROP_RE = re.compile(r"\b(?:not|never)\s+|\bno\s+(?=longer\b)|(?<=[a-z])n't\b|\bcannot\b", re.I)
MAX_VARIANTS = 4
_SENT_RE = re.compile(r"(?<=[.;!?])\s+")


def _case(orig: str, new: str) -> str:
    return new[0].upper() + new[1:] if orig[:1].isupper() else new


def variants(claim: str) -> list[tuple[str, str]]:
    """(kind, text) for each direction word flipped and each negation removed, one change at a time."""
    out: list[tuple[str, str]] = []
    for m in _OPP_RE.finditer(claim):
        out.append(("direction", claim[:m.start()] + _case(m.group(0), OPPOSITE[m.group(0).lower()]) + claim[m.end():]))
    for m in _NEG_DROP_RE.finditer(claim):
        rep = "can" if m.group(0).lower() == "cannot" else ""
        out.append(("negation", claim[:m.start()] + rep + claim[m.end():]))
    return out[:MAX_VARIANTS]


def direction_balance(claim: str, passage: str) -> float:
    """Mean over the claim's direction words of (same - opposite) / (same + opposite), counting the passage's
    direction words of the same axis by how many context words they share with the claim's word within their
    sentence (0 when none does): +1 the passage agrees there, -1 it only uses the opposite polarity."""
    cw = F._words(claim)
    sents = [F._words(x) for x in _SENT_RE.split(passage)]
    sdir = [(sw, j, a, p) for sw in sents for j, a, p in F._dir_index(sw)]
    vals = []
    for i, axis, pol in F._dir_index(cw):
        anchors = F._anchors(cw, i)
        same = opp = 0.0
        for sw, j, a, p in sdir:
            k = len(anchors & F._anchors(sw, j, 6)) if a == axis else 0
            same += k * (p == pol)
            opp += k * (p == -pol)
        vals.append((same - opp) / (same + opp) if same + opp else 0.0)
    return sum(vals) / len(vals) if vals else 0.0
