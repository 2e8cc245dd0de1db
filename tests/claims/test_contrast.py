"""Counterfactual contrast: claim variants, direction balance, and number formats (no model)."""

from __future__ import annotations

from agent.claims import contrast as K
from agent.claims import features as F


def test_variants_flip_each_direction_word_and_drop_each_negation():
    vs = K.variants("Higher doses did not improve outcomes.")
    assert ("direction", "Lower doses did not improve outcomes.") in vs
    assert ("direction", "Higher doses did not worsen outcomes.") in vs
    assert ("negation", "Higher doses did improve outcomes.") in vs
    assert ("negation", "Surgery is safe.") in K.variants("Surgery isn't safe.") or \
        ("negation", "Surgery is safe.") in [(k, v) for k, v in K.variants("Surgery isn't safe.")]
    assert ("negation", "We can say.") in K.variants("We cannot say.")
    assert K.variants("Aspirin was given to 40 patients.") == []


def test_direction_balance_follows_the_passage_near_the_claims_words():
    src = "Telephone counseling increased screening rates. Costs were lower in the control arm."
    assert K.direction_balance("Counseling increased screening.", src) == 1.0
    assert K.direction_balance("Counseling decreased screening.", src) == -1.0
    assert K.direction_balance("Counseling decreased screening.", "Unrelated text about rates.") == 0.0
    assert K.direction_balance("No direction word here.", src) == 0.0


def test_numbers_read_leading_dot_decimals_and_percent_as_fraction():
    assert [n.value for n in F.numbers("p<.05, r = .3 and 0.05")] == [0.05, 0.3, 0.05]
    assert F.number_agreement("significant (p < 0.05)", "significant (P<.05)")[1] == 0
    assert F.number_agreement("a rate of 45%", "a rate of 0.45")[1] == 0
    assert F.number_agreement("a rate of 46%", "a rate of 0.45")[1] == 1
    assert [n.text for n in F.numbers("NC_005148.1 and x.5")] == []


def test_negation_is_checked_per_sentence_against_the_region_that_sentence_matches():
    import numpy as np

    from agent.claims.scorer import feature_values, negated_sentences

    claim = "Drug X lowered blood pressure. No causal inference can be drawn."
    units = ["Drug X lowered blood pressure in 40 patients.", "The design does not allow conclusions about cause.",
             "Blood pressure was measured twice.", "Patients took drug X daily."]
    passage = " ".join(units)
    sims = np.array([0.9, 0.2, 0.5, 0.4])  # the claim as a whole matches the sentences without a negation
    assert negated_sentences(claim) == ["No causal inference can be drawn."]
    # whole claim against its best region (the first sentence): the hedge looks unsupported
    feats, reasons = feature_values(claim, passage, sims, units, neg_regions=None)
    assert feats["neg_unmatched"] == 1 and feats["disagree"] == 1
    # the hedge against the region it matches itself: no disagreement
    feats, reasons = feature_values(claim, passage, sims, units, neg_regions=[(negated_sentences(claim)[0], units[1])])
    assert feats["neg_unmatched"] == 0 and feats["disagree"] == 0 and not reasons


def test_the_score_agrees_with_the_verdict_and_a_wrong_number_ranks_below_the_true_claim():
    """A vetoed claim's score sits below the threshold (score >= threshold is the verdict), so a ranking of
    scores (AUROC) measures the decision the agent makes."""
    from agent.claims import SupportScorer

    passage = ("We followed 412 children for 3 years. Mortality was 24% in the treated group and 31% in the "
               "control group, a reduction that was significant.")
    sc = SupportScorer()
    true = sc.score("Mortality was 24% with treatment against 31% without it, over 3 years.", passage)
    wrong = sc.score("Mortality was 28% with treatment against 31% without it, over 3 years.", passage)
    assert true.supported and not wrong.supported, (true, wrong)
    for s in (true, wrong):
        assert (s.score >= sc.threshold) == s.supported, s
    assert wrong.score < true.score
