"""Groundedness: the share of an answer's sentences that a passage (or tool result) they cite supports.

An answer is split into sentences; each citation ``[P1]``/``[T2]`` (also ``[P1, P3]``) in a sentence points at
the run's passage ``P1`` (``RunResult.passages[0]``) or tool result ``T2``. A sentence counts as supported when one
of the things it cites supports it:

- ``lexical`` (default, deterministic): at least ``min_overlap`` of the sentence's content tokens (tokenised like
  the sparse route: stop words dropped, light stemming, jieba for Chinese) occur in the cited text.
- ``llm``: a judge model (any OpenAI-compatible endpoint; by default the configured one) answers whether the
  cited text supports the sentence (``yes``/``no``).

Sentences without content tokens (e.g. "Yes." alone) are not scored; a sentence that cites nothing is
unsupported. A Chinese answer over English passages needs the ``llm`` judge (lexical overlap cannot cross
languages).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.kb.text import tokenize

CITATION_RE = re.compile(r"\[((?:[PT]\d+)(?:\s*[,;]\s*[PT]\d+)*)\]")
_SENT_RE = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")
MIN_TOKENS = 2

Judge = Callable[[str, str], bool]


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer (English and Chinese punctuation, line breaks); citations stay with their sentence."""
    parts = [p.strip() for p in _SENT_RE.split(text or "")]
    out: list[str] = []
    for p in parts:
        if not p:
            continue
        # A part that is only citations (e.g. "[P1]." after a line break) belongs to the previous sentence.
        if out and not CITATION_RE.sub("", p).strip(" .;,。"):
            out[-1] += " " + p
        else:
            out.append(p)
    return out


def cited_refs(sentence: str) -> list[str]:
    refs: list[str] = []
    for m in CITATION_RE.finditer(sentence):
        refs.extend(r.strip() for r in re.split(r"[,;]", m.group(1)))
    return list(dict.fromkeys(refs))


def content_tokens(text: str) -> set[str]:
    return set(tokenize(CITATION_RE.sub(" ", text)))


def lexical_support(sentence: str, source: str, min_overlap: float = 0.5) -> bool:
    """Whether at least ``min_overlap`` of the sentence's content tokens occur in the source text."""
    toks = content_tokens(sentence)
    if not toks:
        return False
    return len(toks & set(tokenize(source))) / len(toks) >= min_overlap


@dataclass
class Grounding:
    sentences: int  # scored sentences
    supported: int
    uncited: int
    details: list[dict[str, Any]]

    @property
    def score(self) -> float | None:
        return self.supported / self.sentences if self.sentences else None


def ref_texts(passages: Sequence[Any], tool_results: Sequence[Any]) -> dict[str, str]:
    """Text of every citable id: P1.. from the passages (in order), T-ids from the tool results."""
    out: dict[str, str] = {}
    for i, p in enumerate(passages, start=1):
        get = p.get if isinstance(p, dict) else lambda k, d=None, p=p: getattr(p, k, d)
        out[f"P{i}"] = f"{get('title', '') or ''}\n{get('text', '') or ''}"
    for t in tool_results:
        get = t.get if isinstance(t, dict) else lambda k, d=None, t=t: getattr(t, k, d)
        content = get("content")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)
        out[str(get("id"))] = f"{get('name', '')}\n{text}"
    return out


def groundedness(answer: str, passages: Sequence[Any], tool_results: Sequence[Any] = (), *,
                 judge: Judge | None = None, min_overlap: float = 0.5) -> Grounding:
    """Score one answer; ``judge`` (sentence, source) -> bool replaces the lexical check when given."""
    texts = ref_texts(passages, tool_results)
    details = []
    n = supported = uncited = 0
    for s in split_sentences(answer):
        if len(content_tokens(s)) < MIN_TOKENS:
            continue
        n += 1
        refs = cited_refs(s)
        ok_ref = None
        if not refs:
            uncited += 1
        for r in refs:
            src = texts.get(r)
            if src is None:
                continue
            ok = judge(CITATION_RE.sub("", s).strip(), src) if judge else lexical_support(s, src, min_overlap)
            if ok:
                ok_ref = r
                break
        supported += ok_ref is not None
        details.append({"sentence": s[:300], "refs": refs, "supported_by": ok_ref})
    return Grounding(n, supported, uncited, details)


JUDGE_PROMPT = (
    "You check whether a sentence is supported by a source text. Answer with one word: yes if the source states "
    "or directly implies what the sentence says, no otherwise.\n\nSource:\n{source}\n\nSentence: {sentence}\n\n"
    "Supported (yes/no)?"
)


def llm_judge(chat_model, max_source_chars: int = 3000) -> Judge:
    """A judge backed by a langchain chat model (temperature 0 recommended); unparsable replies count as no."""
    from langchain_core.messages import HumanMessage

    def judge(sentence: str, source: str) -> bool:
        msg = chat_model.invoke([HumanMessage(JUDGE_PROMPT.format(source=source[:max_source_chars],
                                                                  sentence=sentence))])
        text = str(getattr(msg, "content", "") or "").strip().lower()
        return bool(re.match(r"\W*((yes|supported)\b|是)", text))

    return judge
