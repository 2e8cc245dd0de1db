"""The profile-HMM Rep call, family classification and the evaluation split (issue #13), on real sequences.

Data: tests/data/sequences (PROVENANCE.md / SOURCE.md there). rep_eval_subset.faa holds evaluation-split proteins
of CRESSENT (never used to build anything shipped); rep_hard_negatives.faa holds Rep-like non-CRESS proteins.
"""

from __future__ import annotations

import gzip
import hashlib
import random

import pytest

from mcp_servers.sequence import rep_family, rep_motifs, rep_profiles
from mcp_servers.sequence.parsing import read_proteins
from mcp_servers.sequence.rep_call import CALLS, call_rep, call_reps
from mcp_servers.sequence.rep_data import read_fasta_text
from mcp_servers.sequence.rep_family import classify_rep
from mcp_servers.sequence.rep_split import assert_training, bare_accession, in_evaluation_split
from tests.fixtures.sequence import SEQ_DATA

# CRESSENT files these proteins under one family while their Reps are near-identical to references filed under
# another (GenBank/RefSeq copies of one protein under two families): the label, not the call, is ambiguous.
LABEL_CONFLICTS = {"ADV18492", "WPF46080", "UPP37809"}


def _fasta(name):
    return read_fasta_text((SEQ_DATA / name).read_text())


# ----------------------------------------------------------------------------------------------- evaluation split
@pytest.mark.parametrize("header, acc", [
    ("sp|Q9DXE5.1|REP_TYLCC RecName: Full=Replication-associated protein", "Q9DXE5"),
    (">NP_937956.1 replicase [Porcine circovirus 2]", "NP_937956"),
    ("xii43282.2 MAG: rolling circle replication-like protein", "XII43282"),
    ("P03070", "P03070"),
])
def test_bare_accession(header, acc):
    assert bare_accession(header) == acc


def test_split_rule_is_sha1_of_bare_accession():
    for header in ("sp|Q9DXE5.1|REP_TYLCC x", "NP_937956.1", "YP_010784652.1 Rep", "AML03132.1"):
        digest = hashlib.sha1(bare_accession(header).encode()).hexdigest()
        assert in_evaluation_split(header) == (digest[0] in "0123")
    # versions and case do not move a protein between splits
    assert in_evaluation_split("np_937956.2 x") == in_evaluation_split("NP_937956.1")
    with pytest.raises(ValueError, match="empty FASTA header"):
        bare_accession(">  ")


def test_build_inputs_refuse_evaluation_proteins():
    ev = next(h for h, _ in _fasta("rep_eval_subset.faa"))
    assert in_evaluation_split(ev)
    with pytest.raises(AssertionError, match="evaluation split"):
        assert_training(["AML03132.1 x", ev], "test")
    seqs = [(h, s) for h, s in _fasta("rep_eval_subset.faa") if " rep:Circoviridae " in h]
    with pytest.raises(AssertionError, match="evaluation split"):
        rep_profiles.family_profiles("Circoviridae", seqs)


def test_shipped_references_are_training_split_only():
    with gzip.open(rep_family.REFERENCES_FILE, "rt") as fh:
        accs = [line[1:].split()[0] for line in fh if line.startswith(">")]
    assert len(accs) > 1000
    assert not [a for a in accs if in_evaluation_split(a)]
    eval_accs = {bare_accession(h) for h, _ in _fasta("rep_eval_subset.faa")}
    assert not eval_accs & set(accs)


# ---------------------------------------------------------------------------------------------------- the call
@pytest.mark.parametrize("rec", read_proteins((SEQ_DATA / "rep_proteins.faa").read_text()), ids=lambda r: r.id)
def test_real_reps(rec):
    a = call_rep(rec.sequence, rec.id)
    assert a["call"] in CALLS and 0.0 <= a["confidence"] <= 1.0 and a["reason"]
    if rec.id == "Q91MF7.1":  # MSV RepA, the unspliced C1 ORF: HUH endonuclease without the helicase
        assert a["call"] == "huh_only" and "RepA" in a["reason"], a
        return
    assert a["call"] == "yes" and a["is_rep"], a
    assert a["confidence"] >= 0.9
    assert a["family"]["name"] != rep_family.UNCLASSIFIED and 0 < a["family"]["nearest"]["identity"] <= 1
    kinds = [d["domain"] for d in a["domains"]]
    assert kinds == ["HUH endonuclease", "SF3 helicase"] and a["domains"][0]["end"] <= a["domains"][1]["end"]


@pytest.mark.parametrize("rec", read_proteins((SEQ_DATA / "control_proteins.faa").read_text()), ids=lambda r: r.id)
def test_controls_are_no(rec):
    a = call_rep(rec.sequence, rec.id)
    assert a["call"] == "no" and a["family"] is None and not a["is_rep"], a


def test_motif_iii_is_not_a_single_point_of_failure(pcv2_rep):
    # PCV2 Rep with its catalytic motif III Tyr (YCSK at 0-based 95) changed to Phe: the motif chain loses motif III
    # and the old regex call drops to "no"; the domain profiles still see a CRESS Rep.
    assert pcv2_rep[95:99] == "YCSK"
    mutant = pcv2_rep[:95] + "F" + pcv2_rep[96:]
    assert rep_motifs.annotate(mutant)["call"] != "yes"
    a = call_rep(mutant)
    assert "motif_III" not in {m["motif"] for m in a["motifs"]}
    assert a["call"] == "yes" and a["family"]["name"] == "Circoviridae"


def test_pcv2_motif_positions(pcv2_rep):
    # 0-based starts from shared/data/README.md; call_rep reports 1-based inclusive positions
    known = {"motif_I": ("FTLNN", 18), "motif_II": ("HLQG", 56), "motif_III": ("YCSK", 95),
             "walker_A": ("GPPGCGKS", 173), "walker_B": ("VIDDF", 212), "motif_C": ("LITSN", 251)}
    got = {m["motif"]: m for m in call_rep(pcv2_rep, "NP_937956.1")["motifs"]}
    for key, (text, start0) in known.items():
        assert pcv2_rep[start0:start0 + len(text)] == text
        m = got[key]
        assert m["start"] <= start0 + 1 <= m["end"], (key, m)
        assert m["sequence"] == pcv2_rep[m["start"] - 1:m["end"]]


def test_fragments_are_partial(pcv2_rep):
    head, tail = call_rep(pcv2_rep[:150]), call_rep(pcv2_rep[150:])
    assert head["call"] == "partial" and "ends" in head["reason"]
    assert tail["call"] == "partial" and "SF3" in tail["reason"]


def test_shuffled_reps_are_never_yes():
    rng = random.Random(7)
    recs = read_proteins((SEQ_DATA / "rep_proteins.faa").read_text())
    shuffled = []
    for r in recs:
        for k in range(5):
            s = list(r.sequence)
            rng.shuffle(s)
            shuffled.append((f"{r.id}-{k}", "".join(s)))
    calls = [a["call"] for a in call_reps(shuffled, with_family=False)]
    assert calls.count("yes") == 0 and calls.count("no") >= len(calls) - 1


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="record 'x'.*protein sequence"):
        call_reps([("x", "MKV1")])


# ----------------------------------------------------------------------------- evaluation-split subset (CRESSENT)
def test_evaluation_subset_reps_are_yes_with_their_family():
    recs = [(h, s) for h, s in _fasta("rep_eval_subset.faa") if " rep:" in h]
    assert all(in_evaluation_split(h) for h, _ in recs) and len(recs) >= 40
    res = call_reps([(h.split()[0], s) for h, s in recs])
    wrong = []
    for (h, _), a in zip(recs, res):
        assert a["call"] == "yes", (h, a["reason"])
        fam = h.split(" rep:")[1].split()[0]
        if a["family"]["name"] != fam and bare_accession(h) not in LABEL_CONFLICTS:
            wrong.append((h.split()[0], fam, a["family"]))
    assert not wrong


def test_evaluation_subset_negatives():
    recs = [(h, s) for h, s in _fasta("rep_eval_subset.faa") if " rep:" not in h]
    res = {h.split()[1]: [] for h, _ in recs}
    for (h, _), a in zip(recs, call_reps([(h.split()[0], s) for h, s in recs])):
        res[h.split()[1]].append(a)
    assert {a["call"] for a in res["capsid"]} == {"no"}
    assert {a["call"] for a in res["gemini_ren"]} == {"no"}
    for phage in ("phage:Microviridae", "phage:Inoviridae"):
        for a in res[phage]:
            assert a["call"] in ("huh_only", "no"), a
            if a["call"] == "huh_only":
                assert "phage/plasmid" in a["reason"] and a["family"] is None


def test_hard_negatives_are_no():
    recs = _fasta("rep_hard_negatives.faa")
    assert {h.split()[0] for h, _ in recs} >= {"YP_680423.1", "NP_042987.1", "P03070"}
    for (h, _), a in zip(recs, call_reps([(h.split()[0], s) for h, s in recs])):
        assert a["call"] == "no", (h, a)


def test_negative_controls_are_no():
    """Issue #13 controls (sources in SOURCE.md): parvovirus NS1 (FPV, B19), IS200/IS605 TnpA, Ras P-loop GTPases,
    papillomavirus E1 (HPV16) and anellovirus ORF1 (TTV1)."""
    recs = _fasta("rep_negative_controls.faa")
    kinds = {h.split()[1] for h, _ in recs}
    assert kinds == {"parvo_ns1", "is200_tnpa", "ras", "papilloma_e1", "anello_orf1"}
    lengths = {h.split()[0]: len(s) for h, s in recs}
    assert lengths["P03114"] == 649 and lengths["YP_004928144.1"] == 671 and lengths["NP_817122.1"] == 770
    e1 = dict((h.split()[0], s) for h, s in recs)["P03114"]
    assert e1.startswith("MADPAGTNGEEG") and "GAANTGKS" in e1  # E1's N-terminus and SF3 Walker A (P-loop)
    for (h, _), a in zip(recs, call_reps([(h.split()[0], s) for h, s in recs])):
        assert a["call"] == "no" and not a["is_rep"] and a["family"] is None, (h, a["call"], a["reason"])
        assert a["confidence"] >= 0.9, (h, a["confidence"])


def test_classify_rep(pcv2_rep):
    fam = classify_rep(pcv2_rep)
    assert fam["name"] == "Circoviridae" and fam["genus"] == "Circovirus"
    assert fam["nearest"]["identity"] > 0.9 and fam["score"] > 100
    assert classify_rep("MSTNKQ" * 40)["name"] == rep_family.UNCLASSIFIED


# ------------------------------------------------------------------ RCR motifs as HUH evidence (no HUH profile hit)
def _motif(key: str, start: int, length: int = 4) -> dict:
    return {"motif": key, "start": start, "end": start + length - 1}


def _sf3_hit(start: int) -> rep_profiles.DomainHit:
    return rep_profiles.DomainHit("SF3|X", 50.0, 1e-10, start, start + 150, 1, 150, 160)


def test_rcr_motifs_before_sf3_spacing_and_order():
    from mcp_servers.sequence.rep_call import rcr_before

    ok = rcr_before([_motif("motif_I", 10), _motif("motif_II", 50), _motif("motif_III", 90)], _sf3_hit(140), 100)
    assert ok == {"motif_II": 50, "motif_III": 90, "gap": 47}
    assert rcr_before([_motif("motif_II", 50), _motif("motif_III", 90)], _sf3_hit(193), 100)["gap"] == 100
    assert rcr_before([_motif("motif_II", 50), _motif("motif_III", 90)], _sf3_hit(194), 100) is None  # too far
    assert rcr_before([_motif("motif_II", 50), _motif("motif_III", 200)], _sf3_hit(400), 100) is None  # NS1-like
    assert rcr_before([_motif("motif_III", 50), _motif("motif_II", 90)], _sf3_hit(140), 100) is None  # wrong order
    assert rcr_before([_motif("motif_II", 50)], _sf3_hit(140), 100) is None  # motif III missing
    assert rcr_before([_motif("motif_II", 50), _motif("motif_III", 138)], _sf3_hit(140), 100) is None  # inside SF3
    assert rcr_before([_motif("motif_II", 50), _motif("motif_III", 90)], None, 100) is None


def test_motif_evidence_needs_the_sf3_domain_and_the_motifs(pcv2_rep):
    """PCV2 Rep with the HUH profiles removed: yes from the RCR motifs before the SF3 domain; without its first 100
    residues (motifs I-III gone) or its SF3 half, never yes."""
    from mcp_servers.sequence.rep_call import calibration

    no_huh = [h for h in rep_profiles.shipped_profiles() if not rep_profiles.text(h.name).startswith(("HUH|", "FAM|"))]
    full, = call_reps([("pcv2", pcv2_rep)], with_family=False, hmms=no_huh)
    assert full["call"] == "yes" and "RCR motifs II" in full["reason"], full["reason"]
    direct, = call_reps([("pcv2", pcv2_rep)], with_family=False)
    assert 0 < full["confidence"] < direct["confidence"]  # weaker evidence than an HUH profile hit
    head_cut, tail_cut = call_reps([("n", pcv2_rep[100:]), ("c", pcv2_rep[:170])], with_family=False, hmms=no_huh)
    assert head_cut["call"] != "yes" and tail_cut["call"] != "yes", (head_cut["reason"], tail_cut["reason"])
    assert calibration()["thresholds"]["max_gap"] >= 50
