"""Sentence-level semantic similarity of a claim to a passage with the project's embedder (MiniLM by default).

A passage is cut into units: its sentences and windows of two and three consecutive sentences (a claim often
condenses two sentences of a source). The claim's similarity is the maximum cosine over the units. Vectors come
from the process-wide embedder of :mod:`agent.kb.embeddings` (the one the knowledge base uses, never a second
copy), through its SQLite cache when one is given and an in-process memo otherwise.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from agent.claims.split import split_claims, strip_citations

MAX_UNIT_CHARS = 1200


def default_embedder():
    """The knowledge base's embedder for the configured model (loaded once per process)."""
    from agent.kb.embeddings import get_embedder
    from agent.settings import get_settings

    e = get_settings().embedding
    return get_embedder(e.model, e.device, e.batch_size)


def passage_sentences(text: str) -> list[str]:
    """Sentences of a passage (line breaks inside a paragraph are joined first)."""
    flat = re.sub(r"\s*\n\s*(?=\S)", lambda m: "\n" if "\n\n" in m.group(0) else " ", text or "")
    sents = [strip_citations(c.text) for c in split_claims(flat)]
    return [s for s in sents if len(s) > 1]


def passage_units(text: str, windows: Sequence[int] = (2, 3)) -> list[str]:
    sents = passage_sentences(text)
    units = list(sents)
    for w in windows:
        if len(sents) > w - 1 and w > 1:
            units += [" ".join(sents[i:i + w]) for i in range(len(sents) - w + 1)]
    return [u[:MAX_UNIT_CHARS] for u in dict.fromkeys(units)] or [text[:MAX_UNIT_CHARS]]


class VectorMemo:
    """Normalised vectors of texts, memoised in process (bounded, LRU) on top of an optional SQLite cache."""

    def __init__(self, embedder, cache=None, max_items: int = 50_000):
        self.embedder = embedder
        self.cache = cache
        self.max_items = max_items
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            vecs = np.asarray(self.embedder.encode_documents(todo, cache=self.cache), dtype=np.float32)
            with self._lock:
                for t, v in zip(todo, vecs):
                    self._memo[t] = v
                while len(self._memo) > self.max_items:
                    self._memo.popitem(last=False)
        with self._lock:
            out = []
            for t in texts:
                v = self._memo.get(t)
                if v is None:  # evicted by a concurrent caller in between
                    v = np.asarray(self.embedder.encode_documents([t], cache=self.cache), dtype=np.float32)[0]
                else:
                    self._memo.move_to_end(t)
                out.append(v)
        return np.stack(out) if out else np.zeros((0, getattr(self.embedder, "dim", 384)), np.float32)


_memos: dict[int, VectorMemo] = {}
_memos_lock = threading.Lock()


def memo_for(embedder, cache=None) -> VectorMemo:
    """One memo per embedder (and cache) in the process."""
    key = id(embedder) ^ id(cache)
    with _memos_lock:
        m = _memos.get(key)
        if m is None or m.embedder is not embedder:
            m = _memos[key] = VectorMemo(embedder, cache)
        return m


def similarities(memo: VectorMemo, claim: str, units: Sequence[str]) -> np.ndarray:
    """Cosine of the claim with every unit (vectors are normalised)."""
    vecs = memo.encode([claim, *units])
    return vecs[1:] @ vecs[0]
