"""The pairs the claim scorer is measured on (evals.support_pairs): the grounded kind changes only what the
passage states, so a reader of the passage alone can tell the altered sentence from the true one."""

from __future__ import annotations

import random

from evals.support_pairs import grounded_direction, grounded_negation, grounded_number

PASSAGE = ("Of 120 patients, 45 (38%) had a relapse. Relapse was higher in smokers. The drug did not reduce "
           "mortality. Adverse events were associated with age.")


def test_a_grounded_number_is_one_the_passage_gives_changed_to_one_it_does_not():
    claim = "A relapse occurred in 38% of the 120 patients after 5 years."
    for seed in range(20):
        out = grounded_number(claim, PASSAGE, random.Random(seed))
        changed = [a for a, b in zip(claim.split(), out.split()) if a != b]
        assert len(changed) == 1 and changed[0] in ("38%", "120"), out  # never "5": the passage lacks it
        new = next(b for a, b in zip(claim.split(), out.split()) if a != b)
        assert new.rstrip("%") not in PASSAGE
    assert grounded_number("Relapse took 5 years.", PASSAGE, random.Random(0)) is None


def test_a_grounded_direction_word_is_one_the_passage_uses():
    out = grounded_direction("Relapse was higher in smokers and more frequent overall.", PASSAGE, random.Random(0))
    assert out == "Relapse was lower in smokers and more frequent overall."  # "more" is not in the passage
    assert grounded_direction("Mortality decreased.", PASSAGE, random.Random(0)) is None


def test_a_grounded_negation_goes_both_ways():
    # inserted before a word the passage states without a negation
    assert grounded_negation("Adverse events were associated with age.", PASSAGE) == (
        "negation", "Adverse events were not associated with age.")
    # removed before a word the passage only negates
    assert grounded_negation("The drug did not reduce mortality.", PASSAGE) == (
        "negation_removed", "The drug did reduce mortality.")
    # neither: the word after the verb is not in the passage
    assert grounded_negation("Outcomes were unchanged.", PASSAGE) is None
