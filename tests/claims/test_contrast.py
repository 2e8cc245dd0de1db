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
