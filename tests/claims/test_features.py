"""Agreement features: numbers and units, direction words, negation, named entities (no model)."""

from __future__ import annotations

from agent.claims import features as F


def test_numbers_skip_identifiers_and_read_units():
    ns = F.numbers("71% vs 61% of 1,099 women (p < 0.05) took 2.5 mg; PCV2 NC_005148.1 Y96 motif 96-99")
    assert [(n.value, n.unit) for n in ns] == [(71, "%"), (61, "%"), (1099, ""), (0.05, ""), (2.5, "mg"), (96, ""),
                                               (99, "")]


def test_number_mismatch_is_found_and_precision_is_respected():
    src = "Adherence was 71% vs 61%; the score was 0.873 and three groups were compared."
    assert F.number_agreement("Adherence was 71% [P1].", src)[1] == 0
    assert F.number_agreement("The score was 0.87.", src)[1] == 0  # the claim's precision
    assert F.number_agreement("Three groups: 3 arms.", src)[1] == 0  # word numbers count
    n, missing, reasons = F.number_agreement("Adherence was 72%.", src)
    assert (n, missing) == (1, 1) and "72%" in reasons[0] and "71" in reasons[0]


def test_direction_flip_is_a_conflict_and_agreement_is_not():
    src = "Telephone counseling increased screening; costs were higher."
    assert F.direction_agreement("Counseling increased screening.", src)[1] == 0
    assert F.direction_agreement("Screening rose with counseling.", src)[1] == 0  # same axis and polarity
    n, conflicts, reasons = F.direction_agreement("Counseling decreased screening.", src)
    assert conflicts == 1 and "decreased" in reasons[0] and "increased" in reasons[0]
    assert F.direction_agreement("治疗后死亡率降低。", "治疗后死亡率升高。")[1] == 1


def test_negation_without_negation_in_the_source():
    assert F.negation_agreement("X is not associated with Y.", "X is associated with Y.")[1] == 1
    assert F.negation_agreement("X is not associated with Y.", "No association between X and Y.")[1] == 0
    assert F.negation_agreement("该突变未影响活性。", "该突变影响活性。")[1] == 1


def test_entity_mismatch_residue_motif_accession():
    src = "The catalytic tyrosine Y96 of RCR motifs I, II and III in NP_937956.1 (PCV2)."
    assert F.entity_agreement("Y96 lies in motif III of NP_937956.1 [T1].", src)[1] == 0
    n, missing, reasons = F.entity_agreement("Y95 lies in motif III.", src)
    assert missing == 1 and reasons == ["Y95 stated, not in the cited text (it has Y96)"]
    n, missing, reasons = F.entity_agreement("Motif II holds the tyrosine.", "The tyrosine lies in motif III.")
    assert missing == 1 and "motif II stated, the cited text names motif III" in reasons[0]
    assert F.entity_agreement("PCV1 Rep (NP_937957.1).", src)[1] == 2
    assert "e. coli" in F.entities("expressed in E. coli")


def test_a_number_counted_in_other_units_is_a_mismatch_although_the_value_is_there():
    source = "Patients were followed for 3 years; 2 groups were compared at 1.5 T and 3 T."
    total, missing, reasons = F.number_agreement("Patients were followed for 2 years.", source)
    assert (total, missing) == (1, 1) and "2 years" in reasons[0] and "3 years" in reasons[0], reasons
    assert F.number_agreement("Patients were followed for 3 years.", source)[1] == 0
    assert F.number_agreement("Two groups: 2 groups were compared.", source)[1] == 0
    # a counted word the source never numbers says nothing (the value check alone decides)
    assert F.number_agreement("The 2 cohorts differed.", source)[1] == 0


def test_idioms_with_not_are_not_negations():
    source = "Stored blood was transfused to 120 patients; outcomes were recorded."
    for claim in ("Trials may settle whether or not the transfusion of stored blood is harmful.",
                  "Somatic complaints are one, but not necessarily the most important, risk factor."):
        assert F.negation_agreement(claim, source)[1] == 0, claim
    assert F.negation_agreement("The transfusion was not recorded.", source)[1] == 1
