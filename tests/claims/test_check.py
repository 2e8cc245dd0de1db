"""check_answer with the real MiniLM and the shipped calibration; apply_verdicts; the framing rule."""

from __future__ import annotations

import pytest

from agent.claims import apply_verdicts, check_answer, is_framing

PASSAGE = (
    "Rolling-circle replication of circoviruses is initiated by the replication-associated protein (Rep). "
    "The catalytic tyrosine Y96 in RCR motif III of PCV2 Rep cleaves the nonanucleotide at the origin. "
    "In infected piglets, viral load increased from 4.1 to 6.3 log copies per mL within 14 days. "
    "Vaccination reduced viremia by 80% and did not affect weight gain."
)


@pytest.fixture(scope="module")
def verdicts(embedder):
    answer = (
        "Here is what the library says:\n"
        "- Rep initiates rolling-circle replication of circoviruses [P1].\n"
        "- Viral load increased from 4.1 to 6.3 log copies per mL within 14 days [P1].\n"
        "- Viral load increased from 4.1 to 9.3 log copies per mL within 14 days [P1].\n"
        "- Vaccination increased viremia by 80% [P1].\n"
        "- Vaccination did not reduce viremia [P1].\n"
        "- The catalytic tyrosine Y95 in RCR motif III cleaves the origin [P1].\n"
        "- The catalytic tyrosine Y96 in RCR motif II cleaves the origin [P1].\n"
        "- Rep is also a helicase of the SF3 family.\n"
        "- Capsid proteins of parvoviruses bind sialic acid receptors [P1]."
    )
    return answer, check_answer(answer, {"P1": PASSAGE}, {}, embedder=embedder)


def test_supported_and_unsupported_passage_claims(verdicts):
    _, vs = verdicts
    got = [(v.kind, v.supported) for v in vs]
    assert got == [("uncited", True), ("passage", True), ("passage", True), ("passage", False), ("passage", False),
                   ("passage", False), ("passage", False), ("passage", False), ("uncited", False),
                   ("passage", False)]
    assert vs[0].exempt and not vs[8].exempt and vs[8].reasons == ["cites nothing"]
    assert vs[1].score > vs[9].score and all(0.0 <= v.score <= 1.0 for v in vs)


def test_reasons_name_the_mismatch(verdicts):
    _, vs = verdicts
    assert any("9.3" in r for r in vs[3].reasons)
    assert any("'increased'" in r and "'reduced'" in r for r in vs[4].reasons)
    assert any("Y95 stated" in r for r in vs[6].reasons)
    assert any("motif II stated" in r for r in vs[7].reasons)


def test_apply_verdicts_mark_and_remove(verdicts):
    answer, vs = verdicts
    marked = apply_verdicts(answer, vs, "mark")
    lines = marked.split("\n")
    assert lines[0] == "Here is what the library says:"
    assert lines[1] == "- Rep initiates rolling-circle replication of circoviruses [P1]."
    assert lines[3].startswith("- ⚠ [unsupported] Viral load increased from 4.1 to 9.3")
    assert lines[8] == "- ⚠ [unsupported] Rep is also a helicase of the SF3 family."
    assert marked.count("⚠ [unsupported]") == 7
    assert apply_verdicts(marked, vs, "mark").count("⚠") == 7  # marking twice changes nothing
    removed = apply_verdicts(answer, vs, "remove")
    assert removed.split("\n") == ["Here is what the library says:",
                                   "- Rep initiates rolling-circle replication of circoviruses [P1].",
                                   "- Viral load increased from 4.1 to 6.3 log copies per mL within 14 days [P1]."]
    with pytest.raises(ValueError, match="policy"):
        apply_verdicts(answer, vs, "hide")


def test_several_passages_are_read_together_and_unknown_ids_fail(embedder):
    passages = {"P1": "PCV2 Rep has 314 amino acids.", "P2": "Its motif III tyrosine is Y96."}
    vs = check_answer("PCV2 Rep has 314 amino acids and its motif III tyrosine is Y96 [P1, P2]. "
                      "It is essential [P9].", passages, {}, embedder=embedder)
    assert vs[0].supported and vs[0].citations == ["P1", "P2"]
    assert not vs[1].supported and "P9" in vs[1].reasons[0]


def test_framing_rule():
    assert is_framing("Here is what the library says:")
    assert is_framing("根据检索到的资料（原文摘录为英文）：")
    assert is_framing("There is not enough evidence in the library to answer this question.")
    assert is_framing("In short.")
    assert is_framing("## Findings")
    assert is_framing("Yes.")
    assert not is_framing("Rep is a helicase.")  # a claim, however short
    assert not is_framing("It has 314 residues.")  # a number is a fact
    assert not is_framing("Y96 matters.")  # an entity is a fact


def test_a_chinese_claim_about_an_english_passage_is_checked_on_numbers_and_entities_only():
    passage = "The Rep protein of PCV2 has 314 residues and starts rolling-circle replication."
    ok = check_answer("PCV2 的 Rep 蛋白有 314 个残基 [P1]。", {"P1": passage}, {})[0]
    assert ok.supported and any("cross-lingual" in r for r in ok.reasons)
    wrong = check_answer("PCV2 的 Rep 蛋白有 512 个残基 [P1]。", {"P1": passage}, {})[0]
    assert not wrong.supported
