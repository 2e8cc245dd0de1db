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
_DOT_NUM_RE = re.compile(r"(?<![\w.,])\.\d+(?![\d.]|[A-Za-z_]*\d)")  # .05 (a p-value written without the 0)
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
    """Numbers written with digits (``1,099``, ``71%``, ``0.05``, ``.05``, ``2.5 mg``), not parts of identifiers,
    in text order."""
    out = []
    found = [(m.start(), m.end(), m.group(1).replace(",", "") + (m.group(2) or ""), m.group(0))
             for m in _NUM_RE.finditer(text)]
    found += [(m.start(), m.end(), "0" + m.group(0), m.group(0)) for m in _DOT_NUM_RE.finditer(text)]
    for start, end, raw, written in sorted(found):
        try:
            value = float(raw)
        except ValueError:  # pragma: no cover
            continue
        u = _UNIT_RE.match(text, end)
        unit = (u.group(1) or "%") if u else ""
        out.append(Number(value, written, unit.lower().lstrip("-")))
    return out


def _same(a: float, b: float, text_a: str) -> bool:
    """``a`` (as written in the claim) equals ``b`` at the claim's precision (0.87 matches 0.873)."""
    if a == b:
        return True
    dec = len(text_a.split(".", 1)[1]) if "." in text_a else 0
    return abs(round(b, dec) - a) < 10 ** (-dec) / 2 + 1e-12


_NEXT_WORD_RE = re.compile(r"\s?-?\s?([A-Za-z]+)")


def _counted(text: str) -> list[tuple[float, str, str, str]]:
    """(value, stem of the word that follows it, number as written, that word as written) for each number:
    ``2 years`` -> (2, 'year', ...), ``3-column`` -> (3, 'column', ...), ``3 T``/``3D`` -> (3, 't'/'d', ...);
    a light word (of, and ...) after the number gives the stem ''."""
    from agent.kb.text import tokenize

    out = []
    for m in _NUM_RE.finditer(text):
        nxt = _NEXT_WORD_RE.match(text, m.end())
        w = nxt.group(1) if nxt else ""
        stem = "" if not w or w.lower() in _LIGHT else (tokenize(w) or [w.lower()])[0]
        out.append((float(m.group(1).replace(",", "") + (m.group(2) or "")), stem, m.group(0), w))
    return out


def counted_mismatches(claim: str, source: str) -> dict[str, str]:
    """{number as written: reason} for each number of the claim whose counted word (unit or noun: ``2 years``,
    ``3-column``, ``3 T``) the source uses only with other numbers: the value alone may appear elsewhere in the
    source (``2`` patients), which does not make ``2 years`` right when the source says ``3 years``."""
    counted = [c for c in _counted(claim) if c[1]]
    if not counted:
        return {}
    src = _counted(source)
    out: dict[str, str] = {}
    for value, stem, written, word in counted:
        there = [(v, f"{t} {w}") for v, s, t, w in src if s == stem]
        if there and not any(_same(value, v, written) for v, _ in there):
            out.setdefault(written, f"number {written} {word}: the cited text gives "
                                    f"{', '.join(list(dict.fromkeys(t for _, t in there))[:3])}")
    return out


def number_agreement(claim: str, source: str) -> tuple[int, int, list[str]]:
    """(claim numbers, numbers absent from the source or given there for another counted word, reasons). Word
    numbers in the source also count."""
    cn = numbers(claim)
    sn = numbers(source)
    values = [(n.value, n.unit) for n in sn]
    lower = source.lower()
    values += [(float(v), "") for w, v in _WORD_NUMBERS.items() if re.search(rf"\b{w}\b", lower)]
    reasons: list[str] = []
    flagged: set[str] = set()  # numbers absent from the source (as written in the claim)
    for n in cn:
        if any(_same(n.value, v, n.text) for v, _ in values):
            continue
        if n.unit == "%" and any(_same(n.value, v * 100, n.text) for v, u in values if u != "%" and v <= 1):
            continue  # 45% stated, the source gives the fraction 0.45
        flagged.add(n.text)
        near = sorted({f"{v:g}" for v, _ in values}, key=lambda s: abs(float(s) - n.value))[:3]
        reasons.append(f"number {n.text}{' ' + n.unit if n.unit and n.unit != '%' else n.unit} is not in the "
                       "cited text" + (f" (closest there: {', '.join(near)})" if near else ""))
    missing = len(reasons)
    # a number present in the source, but there with another counted word (the value-only check passed it)
    extra = [r for w, r in counted_mismatches(claim, source).items() if w not in flagged]
    return len(cn), missing + len(extra), reasons + extra


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


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD_RE.findall(text)]


def _key(word: str) -> str:
    """A crude stem for matching context words (associated ~ association, improve ~ improvement)."""
    return word[:6]


_LIGHT = frozenset("a an the of in on at to for with by from and or as is are was were be been being that this "
                   "these those it its than then there which who whom whose we our their they has have had do does "
                   "did can could may might should would will shall also both all any each such into".split())


def _anchors(words: list[str], i: int, span: int = 4, skip: frozenset[str] = frozenset()) -> set[str]:
    lo, hi = max(0, i - span), min(len(words), i + span + 1)
    return {_key(w) for j, w in enumerate(words[lo:hi], start=lo)
            if j != i and w not in _LIGHT and w not in skip and len(w) > 2}


def _dir_index(words: list[str]) -> list[tuple[int, str, int]]:
    out = []
    for j, w in enumerate(words):
        for axis, (up, down) in _DIRECTION_EN.items():
            if w in up:
                out.append((j, axis, 1))
            elif w in down:
                out.append((j, axis, -1))
    return out


def direction_agreement(claim: str, source: str, region: str | None = None) -> tuple[int, int, list[str]]:
    """(claim direction words, conflicts, reasons). For each direction word of the claim, the source's direction
    words of the same axis that stand near the same context words (within a few words) decide: a conflict when
    they all have the opposite polarity. Without such anchored words, a conflict when the ``region`` (the source
    sentences the claim matches best; default: the whole source) uses the axis only with the opposite polarity."""
    cd = directions(claim)
    region_dirs = directions(region if region is not None else source)
    have = {(a, p) for a, p, _ in region_dirs}
    first: dict[tuple[str, int], str] = {}
    for a, p, w in region_dirs:
        first.setdefault((a, p), w)
    cw, sw = _words(claim), _words(source)
    sdir = _dir_index(sw)
    conflicts, reasons = 0, []
    for i, axis, pol in _dir_index(cw):
        anchors = _anchors(cw, i)
        near = [(j, p) for j, a, p in sdir if a == axis and anchors & _anchors(sw, j, 6)]
        if near:
            if all(p == -pol for _, p in near):
                conflicts += 1
                reasons.append(f"direction: the claim says '{cw[i]}', the cited text says '{sw[near[0][0]]}'")
        elif (axis, pol) not in have and (axis, -pol) in have:
            conflicts += 1
            reasons.append(f"direction: the claim says '{cw[i]}', the cited text says '{first[(axis, -pol)]}'")
    for axis, pol, w in cd:  # Chinese direction words: region level only
        if not _WORD_RE.fullmatch(w) and (axis, pol) not in have and (axis, -pol) in have:
            conflicts += 1
            reasons.append(f"direction: the claim says '{w}', the cited text says '{first[(axis, -pol)]}'")
    return len(cd), conflicts, reasons


# ------------------------------------------------------------------------------------------------- negation
_NEG_EN = re.compile(r"\b(not|no|never|without|neither|nor|none|cannot|lack|lacks|lacking|absence|absent|"
                     r"fails?|failed|unable|\w+n't)\b", re.I)
_NEG_ZH = re.compile(r"[无未不没非否]")


# Negation words that do not deny what follows: "whether or not", "not only ... but", "not necessarily the most".
_NEG_IDIOM_RE = re.compile(r"\b(?:whether or not|or not|if not|not only|not necessarily|not yet|not least|"
                           r"not always|not all|nonetheless|nevertheless|no longer)\b", re.I)


_HEDGES = frozenset({"significantly", "statistically", "significant", "necessarily"})


def negated_word(words: list[str]) -> str | None:
    """The word a negation denies: the first content word among the (lower-case) ``words`` that follow it, within
    4 words ("not significantly associated" -> associated)."""
    return next((x for x in words[:4] if x not in _LIGHT and not _NEG_EN.fullmatch(x) and len(x) > 2
                 and x not in _HEDGES), None)


def negations(text: str) -> list[str]:
    text = _NEG_IDIOM_RE.sub(" ", text)
    return [m.group(0).lower() for m in _NEG_EN.finditer(text)] + _NEG_ZH.findall(text)


def negation_agreement(claim: str, source: str, region: str | None = None) -> tuple[int, int, list[str]]:
    """(claim negations, unmatched, reasons). An English negation is checked where it applies: the first content
    word after it (``not associated`` -> associated) must appear negated in the source (a negation up to 4 words
    before it) when the source has that word; otherwise (and for Chinese) the claim's negation needs some
    negation in the ``region`` (default: the whole source)."""
    claim = _NEG_IDIOM_RE.sub(" ", claim)
    cn = negations(claim)
    if not cn:
        return 0, 0, []
    reg = region if region is not None else source
    cw, sw = _words(claim), _words(source)
    neg_pos = [j for j, w in enumerate(sw) if _NEG_EN.fullmatch(w)]
    unmatched, reasons = 0, []
    checked = False
    for i, w in enumerate(cw):
        if not _NEG_EN.fullmatch(w):
            continue
        target = negated_word(cw[i + 1:])
        if target is None:
            continue
        where = [j for j, x in enumerate(sw) if _key(x) == _key(target)]
        if not where:
            continue
        checked = True
        if not any(j - 5 <= k < j for j in where for k in neg_pos):
            unmatched += 1
            reasons.append(f"negation: the claim says '{w} ... {target}', the cited text states '{target}' without "
                           "a negation")
    if not checked and not negations(reg):
        unmatched += 1
        reasons.append(f"negation: the claim says '{cn[0]}', the cited text has no negation")
    return len(cn), unmatched, reasons


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
