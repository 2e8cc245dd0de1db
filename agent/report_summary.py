"""What the sequence report says in words: the ESM-2 caveat from the library, and (agentic mode) a summary.

- The caveat is never written into code: the library passage on ProteinGym is retrieved and its sentences that
  fit the caveat question best are quoted, cited as ``[P#]`` (``caveat_line``).
- In agentic mode the model writes a short summary (en or zh) from the report's tool results ``[T1..T3]`` and
  library passages ``[P#]``; every claim is checked with ``agent.claims`` and unsupported ones are marked or
  removed (``summarise``). In evidence and guarded modes the report stays the deterministic one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from agent import prompts
from agent.claims import apply_verdicts, check_answer
from agent.compose import encoder_for
from agent.i18n import in_language
from agent.sentences import cite, rank_sentences, select

log = logging.getLogger(__name__)

CAVEAT_QUERY = "How well do zero-shot protein language models such as ESM-2 predict mutation effects in viral proteins on ProteinGym?"
CAVEAT_SEARCH = "ProteinGym zero-shot protein language model ESM-2 viral proteins Spearman"
NO_CAVEAT = {
    "en": "The library has no passage on how well ESM-2 scores predict mutation effects (ingest examples/library): "
          "treat the scores as hypotheses to test.",
    "zh": "文献库中没有关于 ESM-2 打分准确性的段落（可导入 examples/library）：请把这些分数当作需要验证的假设。",
}
CAVEAT_LEAD = {"en": "From the library: ", "zh": "文献库指出（英文原文）："}
SUMMARY_SYSTEM = (
    "You summarise a protein sequence report for a researcher {language_rule}, in 3 to 6 sentences. Use only the "
    "tool results [T1], [T2], [T3] and the library passages [P1], [P2], ... given in the message; cite every claim "
    "with its id right after it; quote positions, motifs and numbers exactly as the tool results give them. "
    + prompts.DATA_RULE
)
SUMMARY_HEADING = {"en": "## Summary", "zh": "## 摘要"}


def caveat_passage(knowledge_base: Any) -> dict | None:
    """The library's best passage for the caveat question (None without a library or a hit)."""
    if knowledge_base is None:
        return None
    try:
        hits = knowledge_base.search(CAVEAT_SEARCH, k=3)
    except Exception as exc:  # noqa: BLE001 - the report says there is no caveat passage
        log.warning("caveat search failed: %s", exc)
        return None
    for h in hits:
        d = h.model_dump() if hasattr(h, "model_dump") else dict(h)
        if "proteingym" in (d.get("text", "") + d.get("title", "")).lower():
            return d
    return None


def caveat_line(passages: list[dict], lang: str, settings: Any) -> str:
    """The caveat quoted from a cited library passage (``passages`` carry their ``ref``)."""
    lang = lang if lang in NO_CAVEAT else "en"
    cands = [(p["ref"], p.get("text", "")) for p in passages if "proteingym" in p.get("text", "").lower()]
    chosen = select(rank_sentences(CAVEAT_QUERY, cands, encoder_for(settings)), n=2, floor=0.2)
    if not chosen:
        return NO_CAVEAT[lang]
    return CAVEAT_LEAD[lang] + " ".join(cite(r.text, r.ref) for r in chosen)


async def summarise(report: dict, lang: str, model: Any, settings: Any) -> dict[str, Any]:
    """A model-written summary of the report, each claim checked: {"text", "claims", "error"}."""
    data = report["data"]
    tools = {f"T{i}": r for i, r in enumerate(data.get("tool_results") or [], start=1)}
    passages = {p["ref"]: p for p in data.get("passages") or []}
    body = "\n".join([*(prompts.tool_block(ref, r, 1500) for ref, r in tools.items()),
                      *(prompts.passage_block(ref, p, 800) for ref, p in passages.items())])
    system = SUMMARY_SYSTEM.format(language_rule=prompts.LANGUAGE_RULE.get(lang, "in English"))
    try:
        msg = await model.ainvoke([SystemMessage(system), HumanMessage(
            f"Sequence {data['sequence']['id']} ({data['sequence']['length']} aa).\n\n{body}")],
            config={"tags": ["bioagent:report_summary"], "run_name": "bioagent.report_summary"})
    except Exception as exc:  # noqa: BLE001 - the deterministic report stands
        return {"text": "", "claims": [], "error": "the model could not write a summary", "detail": str(exc)[:200]}
    text = msg.content if isinstance(msg.content, str) else ""
    valid = {r: t for r, t in tools.items() if t.get("ok")}
    try:
        verdicts = await asyncio.to_thread(check_answer, text, {r: p.get("text", "") for r, p in passages.items()},
                                           valid, judge_model=model)  # the model judges its passage claims too
    except (RuntimeError, OSError) as exc:  # the claim checker cannot run: the summary is not shown unchecked
        return {"text": "", "claims": [], "error": f"claims could not be checked: {str(exc).splitlines()[0][:160]}"}
    shown = apply_verdicts(text, verdicts, policy=settings.agent.claim_policy)
    return {"text": shown.strip(), "claims": [v.as_dict() for v in verdicts], "error": None}


def with_summary(report: dict, summary: dict[str, Any], lang: str) -> dict:
    """The report with the summary after its title (markdown) and in ``data["summary"]``."""
    report["data"]["summary"] = summary
    if summary.get("text"):
        head, _, rest = report["markdown"].partition("\n\n")
        report["markdown"] = f"{head}\n\n{in_language(SUMMARY_HEADING, lang)}\n\n{summary['text']}\n\n{rest}"
    return report
