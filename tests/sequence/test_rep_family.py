"""Rep family classification, the label audit of the evaluation split and the family-held-out Rep call (issue #13).

Data: tests/data/sequences/rep_eval_subset.faa (evaluation-split CRESSENT proteins), rep_label_audit.tsv (written by
bench/rep_label_audit.py from CRESSENT; PROVENANCE.md) and the shipped training-split references.
"""

from __future__ import annotations

import csv

import parasail
import pytest

from mcp_servers.sequence import rep_build, rep_family, rep_profiles
from mcp_servers.sequence.rep_call import call_reps
from mcp_servers.sequence.rep_data import Protein, read_fasta_text
from mcp_servers.sequence.rep_family import classify_rep
from mcp_servers.sequence.rep_split import in_evaluation_split
from tests.fixtures.sequence import SEQ_DATA

AUDIT = SEQ_DATA / "rep_label_audit.tsv"
RULES = {"para_rep", "copy_elsewhere", "filed_twice", "placeholder"}


def _audit() -> list[dict]:
    with open(AUDIT, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _subset(tag: str) -> list[tuple[str, str]]:
    return [(h, s) for h, s in read_fasta_text((SEQ_DATA / "rep_eval_subset.faa").read_text()) if f" {tag}" in h]


def _identity(a: str, b: str) -> float:  # the same measure as rep_family.nearest
    return parasail.sg_stats_striped_16(a, b, 11, 1, parasail.blosum62).matches / min(len(a), len(b))


# ------------------------------------------------------------------------------------------------ label audit
def test_label_audit_table_is_consistent():
    rows = _audit()
    refs = {r.accession: r for r in rep_family.references()}
    assert 10 <= len(rows) <= 60  # a small table, not a relabelling of the evaluation split
    checked = 0
    for r in rows:
        accepted = r["accepted"].split("|")
        assert in_evaluation_split(r["accession"]) and not in_evaluation_split(r["evidence"] or "AAA00001"), r
        assert r["rule"] in RULES and r["reason"] and 250 <= len(r["sequence"]) <= 600, r
        if r["rule"] == "para_rep":
            assert accepted == ["Alphasatellitidae"] and r["label"] != "Alphasatellitidae"
        else:
            assert r["label"] in accepted and len(set(accepted)) >= 2, r
        if r["rule"] == "copy_elsewhere":
            assert float(r["identity"]) >= 0.97 and r["evidence_family"] in accepted
            assert r["evidence_family"] != r["label"]
            ref = refs.get(r["evidence"])
            if ref is not None:  # the evidence may have been cleaned out of the shipped references
                assert ref.family == r["evidence_family"]
                assert _identity(r["sequence"], ref.sequence) == pytest.approx(float(r["identity"]), abs=0.002)
                checked += 1
    assert checked >= 3


def test_placeholder_rule_only_widens_placeholder_labels():
    """`placeholder` rows: the organism is a higher-taxon placeholder, and the second accepted family is either the
    family of a training Rep at >= the shipped family level and >= 5 points closer than the label's, or "unclassified
    CRESS" when no training Rep reaches that level."""
    from bench.rep_label_audit import COPY_MARGIN, FAMILY_LEVEL, PLACEHOLDER

    rows = [r for r in _audit() if r["rule"] == "placeholder"]
    assert rows and FAMILY_LEVEL == rep_family_level()
    refs = {r.accession: r for r in rep_family.references()}
    for r in rows:
        assert PLACEHOLDER.search(r["virus"]), r["virus"]
        label, extra = r["accepted"].split("|")
        assert label == r["label"] and extra != label
        if extra == rep_family.UNCLASSIFIED:
            assert not r["evidence"] and (not r["identity"] or float(r["identity"]) < FAMILY_LEVEL), r
        else:
            assert extra == r["evidence_family"] and float(r["identity"]) >= FAMILY_LEVEL, r
            assert not r["label_best"] or float(r["label_best"]) <= float(r["identity"]) - COPY_MARGIN + 1e-9, r
            if r["evidence"] in refs:
                assert _identity(r["sequence"], refs[r["evidence"]].sequence) == pytest.approx(
                    float(r["identity"]), abs=0.002)
    # named viruses are never widened by this rule
    assert not [r for r in rows if not PLACEHOLDER.search(r["virus"])]
    assert not PLACEHOLDER.search("Canine circovirus") and PLACEHOLDER.search("Periparus ater Circoviridae sp.")


def rep_family_level() -> float:
    from mcp_servers.sequence.rep_call import calibration

    return calibration()["thresholds"]["family_identity"]


def test_para_reps_are_alphasatellite_reps():
    rows = [r for r in _audit() if r["rule"] == "para_rep"]
    assert len(rows) >= 2
    for r in rows:
        fam = classify_rep(r["sequence"])
        assert fam["name"] == "Alphasatellitidae" and fam["nearest"]["identity"] >= 0.6, (r["accession"], fam)


def test_audited_records_get_an_accepted_family():
    rows = _audit()
    ok = [classify_rep(r["sequence"])["name"] in r["accepted"].split("|") for r in rows]
    assert sum(ok) >= 0.9 * len(rows), [r["accession"] for r, k in zip(rows, ok) if not k]


# ---------------------------------------------------------------------------------- classification, named Reps
@pytest.mark.parametrize("acc, family", [
    ("ARE29794.1", "Circoviridae"),  # beak and feather disease virus
    ("YP_009163927.1", "Circoviridae"),
    ("WDD44972.1", "Nanoviridae"),  # pea necrotic yellow dwarf virus master Rep
    ("YP_010805728.1", "Bacilladnaviridae"),
    ("QXN75653.1", "Genomoviridae"),
    ("YP_010784522.1", "Nenyaviridae"),
    ("ATY70088.1", "Alphasatellitidae"),
])
def test_evaluation_reps_of_named_families(acc, family):
    (h, s), = [(h, s) for h, s in _subset("rep:") if h.startswith(acc)]
    assert in_evaluation_split(h)
    fam = classify_rep(s)
    assert fam["name"] == family, fam
    assert fam["nearest"]["family"] == family or fam["method"] == "family profile HMM"


def _mutant(seq: str, every: int) -> str:
    """seq with every `every`-th residue changed (deterministic): identity ~ 1 - 1/every."""
    swap = {c: "W" if c != "W" else "C" for c in set(seq)}
    return "".join(swap[c] if i % every == every - 1 else c for i, c in enumerate(seq))


def _ref(acc: str, family: str, seq: str) -> rep_family.Reference:
    return rep_family.Reference(acc, family, None, seq, rep_family._kmers(seq))


def test_runner_up_and_close_call():
    """The runner-up is the nearest reference of another family; a win by < CLOSE_MARGIN identity is a close call,
    and the call itself stays with the nearest reference."""
    (_, s), = [(h, s) for h, s in _subset("rep:") if h.startswith("ARE29794.1")]
    from mcp_servers.sequence.rep_call import calibration

    near, close, far = _mutant(s, 10), _mutant(s, 9), _mutant(s, 3)  # ~0.90, ~0.89, ~0.67 identity
    fam = rep_family.classify_hits(s, [], calibration(), [_ref("A1", "FamA", near), _ref("B1", "FamB", close)])
    assert fam["name"] == "FamA" and fam["method"] == "nearest reference", fam
    assert fam["runner_up"]["family"] == "FamB" and fam["runner_up"]["accession"] == "B1"
    assert 0 < fam["runner_up"]["margin"] < rep_family.CLOSE_MARGIN and fam["close_call"] is True
    assert fam["runner_up"]["margin"] == pytest.approx(fam["nearest"]["identity"] - fam["runner_up"]["identity"],
                                                       abs=0.002)
    fam = rep_family.classify_hits(s, [], calibration(), [_ref("A1", "FamA", near), _ref("A2", "FamA", close),
                                                          _ref("B1", "FamB", far)])
    assert fam["name"] == "FamA" and fam["runner_up"]["accession"] == "B1" and fam["close_call"] is False
    assert fam["runner_up"]["margin"] > 0.15
    fam = rep_family.classify_hits(s, [], calibration(), [_ref("A1", "FamA", near), _ref("A2", "FamA", close)])
    assert fam["runner_up"] is None and fam["close_call"] is False


def test_shipped_classification_reports_runner_up():
    (_, s), = [(h, s) for h, s in _subset("rep:") if h.startswith("ARE29794.1")]
    fam = classify_rep(s)
    assert fam["name"] == "Circoviridae" and fam["close_call"] is False
    assert fam["runner_up"] is None or (fam["runner_up"]["family"] != "Circoviridae"
                                        and fam["runner_up"]["identity"] <= fam["nearest"]["identity"])


def test_unrelated_protein_is_unclassified():
    fam = classify_rep("MSTNKQ" * 40)
    assert fam["name"] == rep_family.UNCLASSIFIED and fam["method"] is None


# ------------------------------------------------------------------------------------ family held out of the build
def _reference_proteins(exclude: str) -> dict[str, list[Protein]]:
    out: dict[str, list[Protein]] = {}
    for r in rep_family.references():
        if r.family != exclude:
            out.setdefault(r.family, []).append(Protein(r.accession, r.accession, r.family, "cress_rep", r.sequence,
                                                        "rep_references.faa.gz", (r.family,)))
    return out


def _calls_without_motifs(reps, hmms) -> list[str]:
    """The call from the profile evidence alone (no RCR motif evidence for a missing HUH domain)."""
    from mcp_servers.sequence.rep_call import calibration, decide, evidence

    cal = calibration()
    return [decide(evidence(h, len(s), cal), cal)[0]
            for (_, s), h in zip(reps, rep_profiles.search([s for _, s in reps], hmms))]


def test_held_out_family_is_still_a_rep():
    """Bacilladnaviridae removed: its profiles dropped and the pan-CRESS profiles rebuilt without it (from the shipped
    training references); its evaluation Reps must still be called `yes`, phage Reps must not. Two mechanisms: the
    pan-CRESS HUH profile, and the RCR motifs II/III before the SF3 domain when no HUH profile matches."""
    held = "Bacilladnaviridae"
    pan = rep_build.pan_profiles(_reference_proteins(held))
    assert [rep_profiles.text(h.name) for h in pan] == ["HUH|pan-CRESS", "SF3|pan-CRESS"]
    hmms = [h for h in rep_profiles.shipped_profiles()
            if not rep_profiles.text(h.name).endswith(f"|{held}") and "pan-CRESS" not in rep_profiles.text(h.name)]
    hmms += pan
    reps = [(h.split()[0], s) for h, s in _subset(f"rep:{held}")]
    assert len(reps) == 3
    res = call_reps(reps, with_family=False, hmms=hmms)
    assert [r["call"] for r in res] == ["yes"] * 3, [(r["id"], r["call"], r["reason"]) for r in res]
    assert sum("RCR motifs II" in r["reason"] for r in res) == 1  # YP_010805706: no HUH profile reaches 20 bits
    assert _calls_without_motifs(reps, hmms).count("yes") == 2
    phage = [(h.split()[0], s) for h, s in _subset("phage:")]
    assert "yes" not in [r["call"] for r in call_reps(phage, with_family=False, hmms=hmms)]
    # without the pan-CRESS profiles only the motif evidence is left, and without both nothing is recognised
    bare = [h for h in hmms if "pan-CRESS" not in rep_profiles.text(h.name)]
    res = call_reps(reps, with_family=False, hmms=bare)
    assert [r["call"] for r in res] == ["no", "yes", "yes"] and all("RCR motifs II" in r["reason"] for r in res[1:])
    assert "yes" not in _calls_without_motifs(reps, bare)


def test_loo_bench_decisions():
    """bench/rep_family_loo.decide: nearest kept reference, k-NN vote, profile tie-break, near-copy trust, fallback."""
    from bench.rep_family_loo import decide

    fam = ["A", "B", "B", "C"]
    nb = [(0, 0.62), (1, 0.60), (2, 0.59), (3, 0.30)]  # (reference index, identity), nearest first
    keep = [True, True, True, True]
    prof = {"A": 100.0, "B": 180.0}
    assert decide(nb, keep, fam, prof, 0.4) == "A"
    assert decide(nb, keep, fam, prof, 0.4, "knn") == "B"  # 0.60 + 0.59 outweigh 0.62
    assert decide(nb, keep, fam, prof, 0.4, "tie") == "B"  # A and B within 0.05: the profile decides
    assert decide(nb, keep, fam, {"A": 200.0, "B": 180.0}, 0.4, "tie") == "A"
    assert decide(nb, [False, True, True, True], fam, prof, 0.4) == "B"  # A cleaned out
    assert decide(nb, [False, True, True, True], fam, prof, 0.4, trust=0.6) == "A"  # near-copy trusted anyway
    assert decide(nb, keep, fam, prof, 0.7) == "B"  # below the identity level: best profile (>= 60 bits)
    assert decide(nb, keep, fam, {"A": 30.0}, 0.7) is None  # weak profile: unclassified
