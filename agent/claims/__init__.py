"""Claim-level support: split an answer into claims with their citations, check each claim against the passage
or tool result it cites, and mark or remove what is not supported.

    from agent.claims import check_answer, apply_verdicts, ClaimVerdict
    verdicts = check_answer(answer, passages={"P1": text}, tools={"T1": result})
    shown = apply_verdicts(answer, verdicts, policy="mark")   # or "remove"

One core for the agent's verify step, ``bioagent eval support`` and the API/UI. Modules: ``split`` (sentences and
citations), ``features`` (numbers, direction, negation, entities), ``semantic`` (MiniLM similarity),
``scorer`` (the calibrated combination), ``cross`` (optional cross-encoder verdict built at fit time),
``tools`` (exact match with tool results), ``check`` (verdicts), ``judge`` (optional LLM second verdict).
"""

from agent.claims.check import ClaimVerdict, apply_verdicts, check_answer, is_framing
from agent.claims.judge import judge_claims
from agent.claims.scorer import SupportScore, SupportScorer
from agent.claims.split import Claim, split_claims

__all__ = ["Claim", "ClaimVerdict", "SupportScore", "SupportScorer", "apply_verdicts", "check_answer",
           "is_framing", "judge_claims", "split_claims"]
