"""Whole sentences from a passage, and ranking them against a question.

A passage (a chunk of a Markdown, text or PDF document) is cut into blocks first (paragraphs, list items;
headings and table rows dropped, line wraps joined), then into sentences. Only whole sentences are kept: one
that starts in lower case (the chunk began mid-sentence) or has no closing punctuation (the chunk ended
mid-sentence) is dropped, never shortened. Ranking mixes the embedding model's cosine similarity with the share
of the question's key terms a sentence contains, each term weighted by how rare it is among the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agent.query_heuristics import gloss_translate, key_terms, prefixes
from agent.sequence_detect import CJK_RE

_LIST_RE = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])\s+")
_HEADING_RE = re.compile(r"^\s*(?:#{1,6}\s|={3,}|-{3,}\s*$)")
_ABBREV_RE = re.compile(r"\b(?:e\.g|i\.e|et al|cf|vs|approx|ca|Fig|Figs|Eq|Ref|No|sp|spp|var)\."
                        r"|\b(?:nt|aa|bp|kb|kDa)\.(?=\s+(?-i:[a-z0-9(]))", re.I)
"""Periods that do not end a sentence. A unit (``nt``, ``aa``, ``bp`` ...) ends one unless lower case or a
number follows: "1,759 nt. The Rep ..." is two sentences."""
_SPLIT_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])|(?<=[。！？])")
_END_RE = re.compile(r"[.!?。！？][\"')\]]*$")
_REF_RE = re.compile(r"\bdoi\b|doi\.org|\bPMID\b|^\(?\d{4}[a-z]?\)|\bvol\.|\bpp\.|\b\d+\(\d+\):\s?\d+"
                     r"|^[A-Z][\w'\-]+(?: [A-Z][\w'\-]+)? (?-i:[A-Z]{1,3})\.? et al\.", re.I)
"""A reference-list entry ("Liu J et al. (2006) The ORF3 protein ...", "J Virol 84(4):1674-1682", a DOI). A body
sentence that cites a paper ("Kong et al. (2000) found that ...", "... (Jupin et al. 1995).") is kept: it is
often the very sentence that answers (on the sample library's 60 answerable questions, keeping them put the
answer sentence among the chosen ones for 43 instead of 35)."""
_AUTHORS_RE = re.compile(r"^(?:[A-Z][A-Za-z'\-]+ [A-Z]{1,3}[,.]\s*){2,}|\b[A-Z][a-z]+ [A-Z]{1,2}, [A-Z][a-z]+ [A-Z]{1,2}\b")
_PRONOUN_START_RE = re.compile(r"^(?:It|Its|This|These|They|Their|Such|That|Those)\b")
_ALONE_MEANINGLESS_RE = re.compile(
    r"^(?:It|Its|They|Their|(?:This|That|These|Those|Such)\s+(?:is|was|are|were|has|have|had|can|could|may|might|"
    r"will|would|should|must|does|did|suggests?|shows?|indicates?|means?|makes?|allows?|explains?)\b)")
"""A sentence that opens with a pronoun needing the sentence before ("It carries ...", "This was unsurprising");
"These sequences were aligned ..." (a demonstrative before a noun) still reads alone."""
_STRONG_RE = re.compile(r"(?<![\w*])(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_EMPH_RE = re.compile(r"(?<![\w*`])([*`])(?=\S)([^*`\n]+?)(?<=\S)\1(?![\w*`])")
_DOT = "\u2024"  # one-dot leader: stands in for an abbreviation's period while splitting
COSINE_WEIGHT = 0.4
"""Share of the embedding cosine in a sentence's relevance (the rest: the question's key terms it contains)."""
RANK_PRIOR = 0.3
"""Weight of the passage's search rank. Both first chosen on the sample library's 60 answerable English questions
(bench/compose_sentences.py) from {0.65, 0.5, 0.4} x {0, 0.1, 0.2, 0.3}: answer sentence chosen 48 -> 52, first
35 -> 39, MRR 0.696 -> 0.757 against 0.65 / 0; on the PDF questions, not used to choose, 40 -> 42, 29 -> 35,
0.593 -> 0.667 (bench/results/compose_sentences_2026-11-30.md). The cosine share moved to 0.4 with TERM_IDF_POWER."""
TERM_IDF_POWER = 2.0
"""Key terms are weighted by their rarity among the candidate sentences, log(1 + n / (1 + df)) ** this power: a term
every sentence shares ("replication" when all passages are about replication) says little, the question's rare
term ("motifs") much. Chosen with COSINE_WEIGHT on the same 60 questions from power {0 (unweighted), 0.5, 1, 2} x
cosine {0.4, 0.5, 0.6} x prior {0.2, 0.3}: chosen 52 -> 53, first 39 -> 42, MRR 0.757 -> 0.808; PDF questions (not
used to choose) 47 / 39 / 0.750 -> 47 / 39 / 0.763 (bench/results/compose_sentences_2026-11-30b.md)."""
MIN_CHARS = 25
MAX_CHARS = 600


def plain(text: str) -> str:
    """Markdown inline emphasis and code marks removed (``**Motif III** carries`` -> ``Motif III carries``)."""
    text = _STRONG_RE.sub(r"\2", text)
    return _EMPH_RE.sub(r"\2", text)


def blocks(text: str) -> list[str]:
    """Paragraphs and list items of a passage, line wraps joined, inline emphasis removed; headings and table
    rows dropped."""
    out: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            out.append(" ".join(current))
            current.clear()

    for line in text.splitlines():
        s = line.strip()
        if not s or _HEADING_RE.match(s) or s.startswith("|"):
            flush()
            continue
        if _LIST_RE.match(s):
            flush()
            s = _LIST_RE.sub("", s)
        current.append(s)
    flush()
    return [re.sub(r"\s+", " ", plain(b)).strip() for b in out if b.strip()]


def _split(block: str) -> list[str]:
    protected = _ABBREV_RE.sub(lambda m: m.group(0).replace(".", _DOT), block)
    return [part.replace(_DOT, ".").strip() for part in _SPLIT_RE.split(protected)]


def cite(text: str, ref: str) -> str:
    """``text`` with the citation after each sentence that :func:`whole_sentences` joined into it: a unit joined
    from two sentences ("... fold. Its active site ...") is two claims, and the claim check wants each to cite its
    passage. Other units (a table row under a "Table 1." caption) stay one claim."""
    parts: list[str] = []
    for s in _split(text):
        if parts and not _PRONOUN_START_RE.match(s):
            parts[-1] = f"{parts[-1]} {s}"
        elif s:
            parts.append(s)
    return " ".join(f"{s} [{ref}]" for s in parts)


def whole_sentences(text: str, join_pronouns: bool = True) -> list[str]:
    """The passage's whole sentences, in order (fragments at the chunk's edges and references dropped); a sentence
    opening with a pronoun joins the one before it (``join_pronouns=False``: it is dropped)."""
    out: list[str] = []
    for block in blocks(text):
        last = None  # the block's previous sentence, when it was kept (its index in ``out``)
        for s in _split(block):
            kept, last = last, None
            if len(s) < MIN_CHARS or len(s) > MAX_CHARS or not _END_RE.search(s):
                continue
            if not CJK_RE.match(s[0]) and not re.match(r"[A-Z0-9\"'(\[]", s):
                continue  # begins mid-sentence
            if _REF_RE.search(s) or _AUTHORS_RE.search(s) or s.count("(") != s.count(")"):
                continue  # a reference-list entry, or cut inside brackets
            if _PRONOUN_START_RE.match(s):
                # "Its active site lies ...": means nothing alone, so it goes with the sentence before it (one
                # unit, each sentence cited: `cite`); without that sentence it is kept only if it reads alone
                if join_pronouns and kept is not None and len(out[kept]) + len(s) < MAX_CHARS:
                    out[kept] = f"{out[kept]} {s}"
                elif join_pronouns and not _ALONE_MEANINGLESS_RE.match(s):
                    out.append(s)  # "This research was funded by ...": no sentence before it, and none needed
                else:
                    continue
            else:
                out.append(s)
            last = len(out) - 1
    return out


_CAPTION_RE = re.compile(r"^\s*(?:Supplementary\s+)?Table\s+[A-Z]?\d+[A-Za-z]?\b", re.I)
_RULE_RE = re.compile(r"^[\s|:+-]+$")


def table_rows(text: str) -> list[str]:
    """The rows of the tables in a passage, each as one quotable unit with the table's caption and column line:
    ``Table 1 Patient-provider relationship during consultation: Privacy given | 99 | 1 | 97 (columns: Item | Yes
    (%) No (%) Respondents).`` A table is 3 or more consecutive lines with a ``|`` (a PDF table chunk or a Markdown
    table); its first line is the column line. Cells are quoted as extracted, never re-aligned to the columns."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and "|" in lines[j]:
            j += 1
        if j - i >= 3:
            caption = next((ln.strip() for ln in reversed(lines[max(0, i - 3):i]) if _CAPTION_RE.match(ln)), "")
            cells = [" | ".join(c.strip() for c in ln.strip().strip("|").split("|")) for ln in lines[i:j]
                     if not _RULE_RE.match(ln)]
            head, rows = cells[0], cells[1:]
            lead = caption.rstrip(".:") or "Table"
            out += [f"{lead}: {row} (columns: {head})." for row in rows if len(row) >= 3 and re.search(r"\w", row)]
        i = max(j, i + 1)
    return out


@dataclass
class Ranked:
    text: str
    ref: str
    score: float
    cosine: float
    lexical: float
    focus: str = ""
    """The tool finding this sentence matched best ("" when it matched the question best)."""
    relevance: float = 0.0
    """How well it matches the question (``score`` less the passage-rank prior)."""


def term_weights(terms: set[str], pool: Sequence[set[str]], power: float = TERM_IDF_POWER) -> dict[str, float]:
    """Each key term's weight: its rarity among the candidate sentences' prefix sets, log(1 + n / (1 + df)) ** power."""
    n = len(pool)
    return {t: np.log1p(n / (1 + sum(t in w for w in pool))) ** power for t in terms}


def lexical_overlap(terms: set[str], text: str | set[str], weights: dict[str, float] | None = None) -> float:
    """Share of the key terms (5-letter prefixes) found in the text (a string or its prefixes), each term counted
    with its weight (default 1)."""
    if not terms:
        return 0.0
    words = prefixes(text) if isinstance(text, str) else text
    w = weights or dict.fromkeys(terms, 1.0)
    total = sum(w[t] for t in terms)
    return sum(w[t] for t in terms & words) / total if total else 0.0


def english_question(question: str) -> str:
    return gloss_translate(question) if CJK_RE.search(question) else question


def rank_sentences(question: str, passages: Sequence[tuple[str, str]],
                   encode: Callable[[list[str]], np.ndarray] | None, focus: Sequence[str] = (),
                   rank_prior: float = RANK_PRIOR) -> list[Ranked]:
    """Every whole sentence and table row (:func:`table_rows`) of the passages ``(ref, text)``, scored against the
    question, best first.

    ``focus``: further queries from what the tools found (e.g. "RCR motif III catalytic tyrosine" for a
    mutation inside that motif); a sentence scores its best match over the question and these, so the passage
    that explains a finding competes with the sentences that match the question's wording.
    ``encode`` returns normalised embeddings (None: lexical overlap only). ``passages`` come best first: a
    sentence's ``score`` adds ``rank_prior`` x (1 - i / n) for the i-th of n passages, so between sentences that
    match the question about equally the one from the passage the search ranked higher wins; ``relevance`` (what
    :func:`select`'s floors read) leaves that out."""
    items = [(ref, s, 1 - i / len(passages)) for i, (ref, text) in enumerate(passages)
             for s in whole_sentences(text) + table_rows(text)]
    if not items:
        return []
    queries = [question, *(f for f in focus if f.strip())]
    pool = [prefixes(s) for _, s, _ in items]
    terms = [key_terms(q) for q in queries]
    weights = [term_weights(t, pool) for t in terms]
    lex = np.array([[lexical_overlap(t, w, tw) for t, tw in zip(terms, weights)] for w in pool])
    if encode is not None:
        vecs = encode([english_question(q) for q in queries] + [s for _, s, _ in items])
        cos = np.clip(vecs[len(queries):] @ vecs[: len(queries)].T, 0.0, 1.0)
        scores = COSINE_WEIGHT * cos + (1 - COSINE_WEIGHT) * lex
    else:
        cos = np.zeros_like(lex)
        scores = lex
    best = np.argmax(scores, axis=1)  # per sentence: the query it matches best (ties: the question)
    rows = np.arange(len(items))
    relevance, cos, lex = scores[rows, best], cos[rows, best], lex[rows, best]
    score = relevance + rank_prior * np.array([p for _, _, p in items])
    order = np.argsort(-score, kind="stable")
    return [Ranked(items[i][1], items[i][0], float(score[i]), float(cos[i]), float(lex[i]),
                   "" if best[i] == 0 else queries[best[i]], float(relevance[i])) for i in order]


def _norm_words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w+", text) if len(w) > 2}


def select(ranked: list[Ranked], n: int = 4, floor: float = 0.3, relative: float = 0.6,
           near_duplicate: float = 0.7) -> list[Ranked]:
    """The best ``n`` sentences (in ``ranked`` order) whose relevance reaches ``floor`` and ``relative`` x the best
    relevance, near-duplicates dropped (word-set Jaccard >= ``near_duplicate``: chunk overlaps and documents
    repeating each other)."""
    if not ranked:
        return []
    best = max(r.relevance for r in ranked)
    out: list[Ranked] = []
    for r in ranked:
        if len(out) >= n:
            break
        if r.relevance < max(floor, relative * best):
            continue
        words = _norm_words(r.text)
        if any(len(words & (w := _norm_words(o.text))) / max(1, len(words | w)) >= near_duplicate for o in out):
            continue
        out.append(r)
    return out
