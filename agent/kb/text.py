"""Text helpers: script detection, tokenisation for the sparse (BM25-style) route, stable token hashing.

English and other Latin-script text is split into words, stripped of stop words, lower-cased and stemmed
with the Snowball English stemmer (PyStemmer); upper-case acronyms (SARS, ORF) are kept whole; runs of CJK characters are segmented with jieba (search mode, so both words and their parts are
indexed). Tokens map to sparse indices through a stable hash (BLAKE2b, 31 bits), so indices do not depend on
the process, the corpus or the order of ingest.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass

# CJK unified ideographs (+ext A, compatibility), kana, hangul.
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_RE = re.compile(f"[{_CJK}]")
_WORD = f"[^\\W_{_CJK}]+"
_TOKEN_RE = re.compile(f"([{_CJK}]+)|({_WORD}(?:[-'.]{_WORD})*)", re.UNICODE)

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves also may might must
    shall whether within without via among per et al""".split()
)
ZH_STOPWORDS = frozenset("的 了 是 在 和 与 或 及 等 对 中 有 为 吗 呢 吧 啊 么 什么 哪些 如何 怎样 怎么 是否 这 那 其 之 也 就 都 而 被 把 从 到 由 以 能 会 可以 一个 一种 我们".split())

_jieba_lock = threading.Lock()
_jieba = None


def _get_jieba():
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def has_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text))


def non_latin_share(text: str) -> float:
    """Share of letters that are not Latin script (0.0 for English, ~1.0 for Chinese)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    non_latin = 0
    for c in letters:
        if c.isascii():
            continue
        name = unicodedata.name(c, "")
        if not name.startswith("LATIN"):
            non_latin += 1
    return non_latin / len(letters)


def needs_multilingual(text: str) -> bool:
    """True for queries that an English-only model cannot read (CJK, Cyrillic, Greek, Arabic, ... script)."""
    return has_cjk(text) or non_latin_share(text) > 0.3


_stem_local = threading.local()

# Tokenizer + stemmer version of the sparse route; part of the index fingerprint (a change re-indexes).
TOKENIZER_VERSION = "snowball-en+jieba-v2"


def _stemmer():
    st = getattr(_stem_local, "stemmer", None)
    if st is None:  # a PyStemmer object is not thread-safe: one per thread
        import Stemmer

        st = _stem_local.stemmer = Stemmer.Stemmer("english")
    return st


def stem(word: str) -> str:
    """The Snowball English stem (PyStemmer) of a lower-case word; digits and short words stay as they are."""
    if len(word) <= 3 or not word.isalpha():
        return word
    return _stemmer().stemWord(word)


def _is_acronym(word: str) -> bool:
    """SARS, HIV, ORF: upper-case words are kept whole (lower-cased, never stemmed)."""
    return len(word) >= 2 and word.isupper()


def _word_tokens(word: str) -> list[str]:
    low = word.lower()
    if low in STOPWORDS or len(word) >= 40:
        return []
    out = [low if _is_acronym(word) else stem(low)]
    if "-" in word or "." in word:  # compounds also index their parts: rolling-circle -> rolling, circle
        for p in re.split(r"[-.]", word):
            pl = p.lower()
            if len(p) > 1 and not p.isdigit() and pl not in STOPWORDS:
                out.append(pl if _is_acronym(p) else stem(pl))
    return out


def tokenize(text: str) -> list[str]:
    """Tokens for the sparse route: lower-case Snowball stems (acronyms whole) and jieba-segmented CJK words."""
    out: list[str] = []
    text = unicodedata.normalize("NFKC", text)
    for m in _TOKEN_RE.finditer(text):
        cjk, word = m.group(1), m.group(2)
        if cjk:
            for w in _get_jieba().cut_for_search(cjk):
                w = w.strip().lower()
                if w and w not in ZH_STOPWORDS:
                    out.append(w)
        elif word:
            out.extend(_word_tokens(word))
    return out


def token_index(token: str) -> int:
    """Stable sparse index of a token (31-bit BLAKE2b; the same in every process and on every machine)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class SparseVec:
    indices: list[int]
    values: list[float]

    def __bool__(self) -> bool:
        return bool(self.indices)


class SparseEncoder:
    """BM25-style term weights; the IDF part is applied by Qdrant (sparse vector with the IDF modifier).

    Documents get the BM25 term-frequency factor tf*(k1+1)/(tf + k1*(1-b+b*len/avg_len)); queries get 1.0
    per distinct term, so that Qdrant's score is sum over shared terms of idf(t) * tf-factor(t, d) = BM25.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, avg_len: float = 120.0):
        self.k1, self.b, self.avg_len = k1, b, avg_len

    def encode_document(self, text: str) -> SparseVec:
        toks = tokenize(text)
        if not toks:
            return SparseVec([], [])
        norm = self.k1 * (1 - self.b + self.b * len(toks) / self.avg_len)
        weights: dict[int, float] = {}
        for tok, tf in Counter(toks).items():
            idx = token_index(tok)
            weights[idx] = weights.get(idx, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        idxs = sorted(weights)
        return SparseVec(idxs, [float(weights[i]) for i in idxs])

    def encode_query(self, text: str) -> SparseVec:
        idxs = sorted({token_index(t) for t in tokenize(text)})
        return SparseVec(idxs, [1.0] * len(idxs))
