"""Check an answer claim by claim, and mark or remove what its evidence does not support.

- A claim citing passages (``[P#]``) is scored against the joined text of the passages it cites
  (:class:`agent.claims.scorer.SupportScorer`); supported when the score reaches the threshold.
- A claim citing a tool result (``[T#]``) must match the result exactly (:mod:`agent.claims.tools`); values not in
  the tool result may come verbatim from passages the same claim cites.
- A claim citing an id that is neither a passage nor a tool result of the run is unsupported.
- An uncited sentence is ``kind="uncited"`` and unsupported, unless it is framing (:func:`is_framing`): a heading,
  a lead-in ending with a colon, one of the agent's fixed framing lines, or a short sentence with no number, no
  named entity and fewer than :data:`FRAMING_MAX_WORDS` content words. Framing is kept (supported, ``exempt``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agent.claims.features import entities, numbers
from agent.claims.split import Claim, split_claims, strip_citations
from agent.claims.tools import check_tool_claim

FRAMING_MAX_WORDS = 2
MARK = "⚠ [unsupported] "
Kind = Literal["passage", "tool", "uncited"]


@dataclass
class ClaimVerdict:
    text: str
    citations: list[str]
    supported: bool
    score: float
    reasons: list[str] = field(default_factory=list)
    kind: Kind = "passage"
    exempt: bool = False  # framing sentence: not a factual claim, never marked or removed
    start: int = -1  # offsets of the claim in the checked answer (apply_verdicts uses them)
    end: int = -1
    judge: dict[str, Any] | None = None  # the LLM judge's second verdict, when one was asked

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _framing_lines() -> set[str]:
    from agent import prompts

    lines: set[str] = set()
    for table in (prompts.NOT_ENOUGH, prompts.FALLBACK_HEADER, prompts.TOOL_HEADER, prompts.DIRECT_FALLBACK):
        for text in table.values():
            lines.update(strip_citations(c.text).rstrip(" .。") for c in split_claims(text))
    return lines


def is_framing(sentence: str) -> bool:
    """A sentence that frames the answer rather than stating a fact (exempt from needing a citation)."""
    s = strip_citations(sentence).strip()
    if not s or s.startswith("#") or s.rstrip().endswith((":", "：")):
        return True
    if s.rstrip(" .。!！") in _framing_lines():
        return True
    if numbers(s) or entities(s):
        return False
    from agent.kb.text import tokenize

    return len(tokenize(s)) < FRAMING_MAX_WORDS


def _verdict(c: Claim, **kw) -> ClaimVerdict:
    return ClaimVerdict(text=c.text, citations=list(c.citations), start=c.start, end=c.end, **kw)


def check_answer(answer_text: str, passages: dict[str, str], tools: dict[str, Any], *, embedder=None,
                 threshold: float | None = None, scorer=None, judge_model=None,
                 on_judge_reply=None) -> list[ClaimVerdict]:
    """One verdict per sentence of the answer (see the module docstring for the rules). With ``judge_model`` (a
    chat model) each passage claim also gets the model's verdict (:func:`agent.claims.judge.judge_claims`) in
    ``judge``; a claim stays supported only if both agree. Without it no model is called."""
    passages = passages or {}
    tools = tools or {}
    claims = split_claims(answer_text)
    if scorer is None and any(any(r in passages for r in c.citations) for c in claims):
        from agent.claims.scorer import SupportScorer

        scorer = SupportScorer(embedder, threshold=threshold)
    out: list[ClaimVerdict] = []
    for c in claims:
        bare = c.bare
        if not c.citations:
            if is_framing(c.text):
                out.append(_verdict(c, supported=True, score=1.0, kind="uncited", exempt=True,
                                    reasons=["framing sentence (no factual content)"]))
            else:
                out.append(_verdict(c, supported=False, score=0.0, kind="uncited", reasons=["cites nothing"]))
            continue
        unknown = [r for r in c.citations if r not in passages and r not in tools]
        p_refs = [r for r in c.citations if r in passages]
        t_refs = [r for r in c.citations if r in tools]
        reasons = [f"cites {r}, which is not among this run's passages or tool results" for r in unknown]
        if t_refs:
            ok, why = check_tool_claim(bare, [tools[r] for r in t_refs],
                                       extra_text="\n".join(passages[r] for r in p_refs))
            out.append(_verdict(c, supported=ok and not unknown, score=1.0 if ok and not unknown else 0.0,
                                kind="tool", reasons=reasons + why))
        elif p_refs:
            res = scorer.score(bare, "\n\n".join(passages[r] for r in p_refs))
            out.append(_verdict(c, supported=res.supported and not unknown, score=res.score, kind="passage",
                                reasons=reasons + res.reasons))
        else:
            out.append(_verdict(c, supported=False, score=0.0, kind="passage", reasons=reasons))
    if judge_model is not None:
        _add_judge(judge_model, out, passages, on_judge_reply)
    return out


def _add_judge(model, verdicts: list[ClaimVerdict], passages: dict[str, str], on_reply=None) -> None:
    from agent.claims.judge import judge_claims

    todo = [v for v in verdicts if v.kind == "passage" and any(r in passages for r in v.citations)]
    for v, j in zip(todo, judge_claims(model, todo, passages, on_reply)):
        v.judge = j
        if j and j.get("supported") is False and v.supported:
            v.supported = False
            v.reasons.append(f"judge: {j.get('reason') or 'not supported'}")


def _locate(text: str, v: ClaimVerdict, used_from: int) -> tuple[int, int] | None:
    if 0 <= v.start < v.end <= len(text) and text[v.start:v.end] == v.text:
        return v.start, v.end
    i = text.find(v.text, used_from)
    if i < 0:
        i = text.find(v.text)
    return (i, i + len(v.text)) if i >= 0 else None


def apply_verdicts(answer_text: str, verdicts: list[ClaimVerdict], policy: str = "mark") -> str:
    """The answer with each unsupported (non-exempt) claim marked (``policy="mark"``: prefixed with ``⚠
    [unsupported]``) or removed (``policy="remove"``; list items left empty disappear)."""
    if policy not in ("mark", "remove"):
        raise ValueError(f"policy must be 'mark' or 'remove', not {policy!r}")
    spans = []
    pos = 0
    for v in verdicts:
        if v.supported or v.exempt:
            continue
        loc = _locate(answer_text, v, pos)
        if loc is not None:
            spans.append(loc)
            pos = loc[1]
    text = answer_text
    for s, e in sorted(set(spans), reverse=True):
        if policy == "mark":
            if not text[s:e].startswith(MARK) and text[max(0, s - len(MARK)):s] != MARK:
                text = text[:s] + MARK + text[s:e] + text[e:]
        else:
            text = text[:s] + text[e:]
    if policy == "remove":
        lines = []
        for line in text.split("\n"):
            if line.strip() and not re.fullmatch(r"\s*(?:[-*•·]|\d{1,3}[.)])\s*", line):
                lines.append(re.sub(r"[ \t]{2,}", " ", line).rstrip())
            elif not line.strip():
                lines.append("")
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text
