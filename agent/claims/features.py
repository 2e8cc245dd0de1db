"""What a reader checks first when a sentence cites a text: numbers, direction words, negation, named entities.

Pure text functions (no model): each extractor returns the items of one kind found in a text, and the
``*_agreement`` functions compare a claim with the text it cites and return counts plus readable reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.claims.split import strip_citations

# ------------------------------------------------------------------------------------------------- numbers
_NUM_RE = re.compile(
    r"(?<![A-Za-z_\d.])"  # not inside an identifier (PCV2, NC_005148.1, Y96)
    r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?"
    r"(?![\d]|[A-Za-z_]*\d)"
)
_UNIT_RE = re.compile(r"\s?(%|‰|-?fold|mg|µg|ug|μg|ng|g|kg|ml|mL|µl|μl|l|L|mm|cm|m|km|kDa|Da|bp|kb|nt|aa|h|hr|hours?|"
                      r"min|minutes?|s|days?|weeks?|months?|years?|mmol|µmol|μmol|nmol|mol|mmHg|°C|U|IU)\b|\s?%")
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "twice": 2, "double": 2, "half": 0.5,
                 "twofold": 2, "threefold": 3, "fourfold": 4, "tenfold": 10}


@dataclass(frozen=True)
class Number:
    value: float
    text: str
    unit: str = ""


def numbers(text: str) -> list[Number]:
    """Numbers written with digits (``1,099``, ``71%``, ``0.05``, ``2.5 mg``), not parts of identifiers."""
    out = []
    for m in _NUM_RE.finditer(text):
        raw = m.group(1).replace(",", "") + (m.group(2) or "")
        try:
            value = float(raw)
        except ValueError:  # pragma: no cover
            continue
        u = _UNIT_RE.match(text, m.end())
        unit = (u.group(1) or "%") if u else ""
        out.append(Number(value, m.group(0), unit.lower().lstrip("-")))
    return out


def _same(a: float, b: float, text_a: str) -> bool:
    """``a`` (as written in the claim) equals ``b`` at the claim's precision (0.87 matches 0.873)."""
    if a == b:
        return True
    dec = len(text_a.split(".", 1)[1]) if "." in text_a else 0
    return abs(round(b, dec) - a) < 10 ** (-dec) / 2 + 1e-12


def number_agreement(claim: str, source: str) -> tuple[int, int, list[str]]:
    """(claim numbers, numbers absent from the source, reasons). Word numbers in the source also count."""
    cn = numbers(claim)
    sn = numbers(source)
    values = [(n.value, n.unit) for n in sn]
    lower = source.lower()
    values += [(float(v), "") for w, v in _WORD_NUMBERS.items() if re.search(rf"\b{w}\b", lower)]
    missing, reasons = 0, []
    for n in cn:
        if any(_same(n.value, v, n.text) for v, _ in values):
            continue
        missing += 1
        near = sorted({f"{v:g}" for v, _ in values}, key=lambda s: abs(float(s) - n.value))[:3]
        reasons.append(f"number {n.text}{' ' + n.unit if n.unit and n.unit != '%' else n.unit} is not in the "
                       "cited text" + (f" (closest there: {', '.join(near)})" if near else ""))
    return len(cn), missing, reasons


# ------------------------------------------------------------------------------------------ direction words
# (axis, polarity): a claim word whose axis appears in the source only with the opposite polarity is a conflict.
_DIRECTION_EN = {
    "amount": ({"increase", "increased", "increases", "increasing", "rise", "rises", "rose", "risen", "elevated",
                "elevation", "higher", "highest", "greater", "more", "larger", "raised", "upregulated",
                "up-regulated", "upregulation", "up-regulation", "enhanced", "enhances", "enhance", "augmented",
                "gain", "gains", "exceeded", "exceeds", "longer", "accelerated", "promotes", "promoted",
                "stimulates", "stimulated", "induces", "induced", "above"},
               {"decrease", "decreased", "decreases", "decreasing", "decline", "declined", "declines", "reduced",
                "reduces", "reduce", "reduction", "lower", "lowest", "less", "fewer", "smaller", "lowered",
                "downregulated", "down-regulated", "downregulation", "down-regulation", "diminished", "drop",
                "dropped", "fell", "fall", "falls", "attenuated", "attenuates", "suppressed", "suppresses",
                "inhibited", "inhibits", "shorter", "delayed", "slowed", "below", "loss"}),
    "quality": ({"improve", "improved", "improves", "improving", "improvement", "better", "beneficial", "benefit",
                 "benefits", "superior", "favorable", "favourable", "effective", "safe", "safer"},
                {"worsen", "worsened", "worsens", "worsening", "worse", "deteriorated", "deterioration", "harmful",
                 "harm", "inferior", "unfavorable", "unfavourable", "poorer", "ineffective", "unsafe"}),
    "sign": ({"positive", "positively"}, {"negative", "negatively", "inversely"}),
}
_DIRECTION_ZH = {
    "amount": (("增加", "升高", "上升", "提高", "增强", "上调", "更高", "更多", "增多", "促进"),
               ("减少", "降低", "下降", "减弱", "下调", "更低", "更少", "抑制", "减低")),
    "quality": (("改善", "更好", "有效", "有益"), ("恶化", "更差", "无效", "有害")),
}
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z\-]*")


def directions(text: str) -> list[tuple[str, int, str]]:
    """(axis, +1/-1, word) for each direction word, in order."""
    out = []
    for m in _WORD_RE.finditer(text):
        w = m.group(0).lower()
        for axis, (up, down) in _DIRECTION_EN.items():
            if w in up:
                out.append((axis, 1, w))
            elif w in down:
                out.append((axis, -1, w))
    for axis, (up, down) in _DIRECTION_ZH.items():
        for w in up:
            out += [(axis, 1, w)] * text.count(w)
        for w in down:
            out += [(axis, -1, w)] * text.count(w)
    return out


def direction_agreement(claim: str, source: str) -> tuple[int, int, list[str]]:
    """(claim direction words, conflicts, reasons): a conflict is a claim word whose axis occurs in the source
    only with the opposite polarity (claim "decreased", source "increased" and never a decrease word)."""
    cd = directions(claim)
    sd = directions(source)
    have = {(a, p) for a, p, _ in sd}
    words: dict[tuple[str, int], str] = {}
    for a, p, w in sd:
        words.setdefault((a, p), w)
    conflicts, reasons = 0, []
    for axis, pol, w in cd:
        if (axis, pol) not in have and (axis, -pol) in have:
            conflicts += 1
            reasons.append(f"direction: the claim says '{w}', the cited text says '{words[(axis, -pol)]}'")
    return len(cd), conflicts, reasons


# ------------------------------------------------------------------------------------------------- negation
_NEG_EN = re.compile(r"\b(not|no|never|without|neither|nor|none|cannot|lack|lacks|lacking|absence|absent|"
                     r"fails?|failed|unable|\w+n't)\b", re.I)
_NEG_ZH = re.compile(r"[无未不没非否]")


def negations(text: str) -> list[str]:
    return [m.group(0).lower() for m in _NEG_EN.finditer(text)] + _NEG_ZH.findall(text)


def negation_agreement(claim: str, source: str) -> tuple[int, int, list[str]]:
    """(claim negations, unmatched, reasons): a negation in the claim with none in the source text."""
    cn, sn = negations(claim), negations(source)
    if cn and not sn:
        return len(cn), len(cn), [f"negation: the claim says '{cn[0]}', the cited text has no negation"]
    return len(cn), 0, []


# ------------------------------------------------------------------------------------------------- entities
_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V"}
_MOTIF_RE = re.compile(r"\bmotifs?\s+((?:[IVX]{1,4}|\d|[A-C])\b(?:\s*(?:,|and|or|/|&|和|与)\s*(?:[IVX]{1,4}|\d|[A-C])\b)*)",
                       re.I)
_WALKER_RE = re.compile(r"\bWalker\s+([AB])\b", re.I)
_RESIDUE_RE = re.compile(r"\b([ACDEFGHIKLMNPQRSTVWY])(\d{1,4})([ACDEFGHIKLMNPQRSTVWY])?\b")
_ACCESSION_RE = re.compile(r"\b(?:[A-Z]{2}_\d{5,9}(?:\.\d+)?|[A-Z]{1,2}\d{5,8}(?:\.\d+)?|"
                           r"[OPQ]\d[A-Z\d]{3}\d(?:\.\d+)?|[A-NR-Z]\d[A-Z][A-Z\d]{2}\d(?:\.\d+)?)\b")
_GENE_RE = re.compile(r"\b(?=[A-Za-z0-9-]*[A-Z])(?=[A-Za-z0-9-]*\d)[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*\b"
                      r"|\b[A-Z]{2,}[a-z]?s?\b")
_SPECIES_RE = re.compile(r"\b[A-Z]\.\s?[a-z]{3,}\b|\b[A-Z][a-z]+ (?:[a-z]+ )?virus(?: \d+)?\b")
_SKIP = {"I", "A", "DNA", "RNA", "OR", "CI", "SD", "USA", "UK", "II", "III", "IV", "AND", "THE", "NOT"}


def entities(text: str) -> set[str]:
    """Normalised names: motifs (``motif:III``), residues and variants (``Y96``, ``K25A``), accessions, gene-like
    symbols and acronyms (``TP53``, ``PCV2``, ``HCC``), abbreviated species (``E. coli``)."""
    t = strip_citations(text)
    out: set[str] = set()
    for m in _MOTIF_RE.finditer(t):
        for x in re.split(r"\s*(?:,|and|or|/|&|和|与)\s*", m.group(1)):
            x = x.strip()
            if x:
                out.add("motif:" + _ROMAN.get(x, x.upper()))
    for m in _WALKER_RE.finditer(t):
        out.add("walker:" + m.group(1).upper())
    for m in _RESIDUE_RE.finditer(t):
        out.add(m.group(0))
    for m in _ACCESSION_RE.finditer(t):
        out.add(m.group(0))
    for m in _GENE_RE.finditer(t):
        g = m.group(0)
        g2 = g[:-1] if g.endswith("s") and g[:-1].isupper() else g
        if g2 not in _SKIP and not re.fullmatch(r"[IVX]+", g2) and not _RESIDUE_RE.fullmatch(g2):
            out.add(g2.upper())
    for m in _SPECIES_RE.finditer(t):
        out.add(re.sub(r"\s+", " ", m.group(0)).lower())
    return out


def entity_agreement(claim: str, source: str) -> tuple[int, int, list[str]]:
    """(claim entities, absent from the source, reasons)."""
    ce = entities(claim)
    se = entities(source)
    src_upper = source.upper()
    missing = []
    for e in sorted(ce):
        if e in se:
            continue
        if ":" not in e and " " not in e and re.search(rf"(?<![A-Z0-9]){re.escape(e)}(?![A-Z0-9])", src_upper):
            continue  # written differently (case, plural) but present
        missing.append(e)
    reasons = []
    for e in missing:
        kind = e.split(":")[0] if ":" in e else None
        shown = f"{'motif' if kind == 'motif' else 'Walker'} {e.split(':')[1]}" if kind else e
        same_kind = sorted(x for x in se if kind and x.startswith(kind + ":"))
        if kind == "motif" and same_kind:
            reasons.append(f"{shown} stated, the cited text names {', '.join('motif ' + x.split(':')[1] for x in same_kind)}")
        elif _RESIDUE_RE.fullmatch(e):
            near = sorted(x for x in se if _RESIDUE_RE.fullmatch(x))
            reasons.append(f"{e} stated, not in the cited text" + (f" (it has {', '.join(near[:3])})" if near else ""))
        else:
            reasons.append(f"{shown} is not in the cited text")
    return len(ce), len(missing), reasons
