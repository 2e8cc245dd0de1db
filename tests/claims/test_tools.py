"""Claims citing tool results must match the structured result exactly."""

from __future__ import annotations

from agent.claims import check_answer
from agent.claims.tools import check_tool_claim

ANNOT = {"id": "T1", "name": "annotate_rep", "ok": True, "content": {"records": [{
    "id": "NP_937956.1", "length": 314, "call": "yes", "chain_score": 4.512,
    "motifs": [{"motif": "motif_II", "name": "motif II", "start": 56, "end": 59, "sequence": "HLQG", "score": 0.8},
               {"motif": "motif_III", "name": "motif III", "start": 96, "end": 99, "sequence": "YCSK", "score": 0.91}]}]}}


def ok(claim: str, *results) -> tuple[bool, list[str]]:
    return check_tool_claim(claim, list(results) or [ANNOT])


def test_exact_matches_pass():
    assert ok("Y96 lies in RCR motif III (YCSK, 96-99), the catalytic tyrosine.") == (True, [])
    assert ok("NP_937956.1 is 314 aa long; the call is yes and the chain score 4.51.") == (True, [])
    assert ok("It is a CRESS Rep with motif II HLQG at 56.") == (True, [])


def test_position_number_sequence_and_call_mismatches_are_named():
    assert ok("Y95 lies in motif III.") == (False, ["Y95 stated, tool says 96"])
    assert ok("C96 is the nucleophile.") == (False, ["C96 stated, tool has Y at 96"])
    assert ok("The protein is 315 aa long.") == (False, ["315 stated, tool says 314"])
    assert ok("Motif III reads YCSR.") == (False, ["YCSR stated, tool says YCSK"])
    assert ok("The call is partial.") == (False, ["call 'partial' stated, tool says 'yes'"])
    assert ok("It is not a CRESS Rep.")[0] is False
    assert ok("Motif III scores 0.95.") == (False, ["0.95 stated, tool says 0.91"])


def test_failed_tool_call_cannot_support_anything():
    failed = {"id": "T2", "name": "score_mutations", "ok": False, "error": "ESM weights missing", "content": None}
    good, reasons = check_tool_claim("Y96A scores -3.2.", [failed])
    assert not good and reasons[0].startswith("cites a failed tool call (ESM weights missing")


def test_check_answer_tool_claims_and_unknown_ids():
    answer = ("Sequence analysis:\n- Y96 lies in motif III (YCSK, 96-99) [T1].\n- Y95 lies in motif III [T1].\n"
              "- It is a CRESS Rep [T7].")
    vs = check_answer(answer, {}, {"T1": ANNOT})
    assert [(v.kind, v.supported) for v in vs] == [("uncited", True), ("tool", True), ("tool", False),
                                                   ("passage", False)]
    assert vs[0].exempt and vs[2].reasons == ["Y95 stated, tool says 96"]
    assert "T7" in vs[3].reasons[0]
    assert vs[1].as_dict()["citations"] == ["T1"]


def test_signed_scores_model_names_and_sign_comparisons():
    """The evidence composer's own ESM line: "ESM-2" is a name, "below 0" the sign, -11.73 the signed score."""
    res = [{"content": {"model": "esm2_t2_tiny_random", "scores": [{"mutation": "Y96F", "position": 96,
                                                                    "score": -11.7312}]}}]
    ok, reasons = check_tool_claim("ESM-2 (esm2_t2_tiny_random) scores Y96F at -11.73 (below 0: predicted "
                                   "damaging) [T3]", res)
    assert ok, reasons
    ok, reasons = check_tool_claim("ESM-2 scores Y96F at 11.73 [T3]", res)
    assert not ok and reasons == ["11.73 stated, tool says -11.7312"], reasons
    assert not check_tool_claim("ESM-2 scores Y96F at -12.5 [T3]", res)[0]
