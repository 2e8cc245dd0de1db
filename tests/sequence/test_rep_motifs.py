"""CRESS Rep annotation on real sequences (tests/data/sequences, see PROVENANCE.md there)."""

from __future__ import annotations

import random

import pytest

from mcp_servers.sequence import service
from mcp_servers.sequence.parsing import read_proteins
from mcp_servers.sequence.rep_motifs import annotate
from tests.fixtures.sequence import SEQ_DATA

# MSV RepA is the unspliced C1 product: endonuclease domain only, no helicase -> "partial" by design.
EXPECTED_PARTIAL = {"Q91MF7.1"}
HARD_NEGATIVES = {"YP_680423.1", "NP_042987.1"}  # AAV2 Rep78, HHV-6A U94: HUH/SF3 but not CRESS


def _records(name):
    return read_proteins((SEQ_DATA / name).read_text())


@pytest.mark.parametrize("rec", _records("rep_proteins.faa"), ids=lambda r: r.id)
def test_every_cress_rep_is_called(rec):
    a = annotate(rec.sequence, rec.id)
    expected = "partial" if rec.id in EXPECTED_PARTIAL else "yes"
    assert a["call"] == expected, (rec.id, a)
    keys = [m["motif"] for m in a["motifs"]]
    assert {"motif_II", "motif_III"} <= set(keys)
    if expected == "yes":
        assert {"walker_A", "walker_B"} <= set(keys)
    starts = [m["start"] for m in a["motifs"]]
    assert starts == sorted(starts)


@pytest.mark.parametrize("rec", _records("control_proteins.faa"), ids=lambda r: r.id)
def test_controls_are_not_cress_reps(rec):
    a = annotate(rec.sequence, rec.id)
    assert a["call"] == "no", (rec.id, a)


def test_hard_negatives_have_walker_a_but_are_no():
    for rec in _records("control_proteins.faa"):
        if rec.id not in HARD_NEGATIVES:
            continue
        a = annotate(rec.sequence, rec.id)
        walker_a = [m for m in a["motifs"] + a["other_strong_motifs"] if m["motif"] == "walker_A"]
        assert walker_a, rec.id  # the P-loop is found ...
        assert a["call"] == "no"  # ... and is not enough
        assert any("SF3 helicase" in r for r in a["reasons"])


def test_pcv2_motif_positions_match_known_positions(pcv2_rep):
    # shared/data/README.md, 0-based starts: FTLNN 18, HLQG 56, YCSK 95, GPPGCGKS 173, VIDDF 212, LITSN 251
    known = {"motif_I": ("FTLNN", 18), "motif_II": ("HLQG", 56), "motif_III": ("YCSK", 95),
             "walker_A": ("GPPGCGKS", 173), "walker_B": ("VIDD", 212), "motif_C": ("LITSN", 251)}
    a = annotate(pcv2_rep)
    got = {m["motif"]: m for m in a["motifs"]}
    for key, (text, start0) in known.items():
        m = got[key]
        assert m["start"] <= start0 + 1 <= m["end"], (key, m)
        assert pcv2_rep[start0:start0 + len(text)] == text
        assert text[:3] in m["sequence"] or m["sequence"][:3] in text


def test_shuffled_reps_are_never_called_yes():
    rng = random.Random(7)
    calls = {"yes": 0, "partial": 0, "no": 0}
    for rec in _records("rep_proteins.faa"):
        for _ in range(10):
            s = list(rec.sequence)
            rng.shuffle(s)
            calls[annotate("".join(s))["call"]] += 1
    assert calls["yes"] == 0
    assert calls["partial"] <= 2  # of 170


def test_fragments(pcv2_rep):
    assert annotate(pcv2_rep[:150])["call"] == "partial"  # endonuclease domain only
    assert annotate(pcv2_rep[150:])["call"] == "no"  # helicase alone is never enough


def test_genome_translation_annotated(settings):
    out = service.annotate_rep((SEQ_DATA / "genomes" / "NC_005148.1.gbk").read_text(), translate_dna=True)
    calls = {r["id"]: r["call"] for r in out["records"]}
    assert calls == {"NP_937956.1": "yes", "YP_006355434.1": "no", "NP_937957.1": "no"}
    assert out["records"][0]["parent"] == "NC_005148.1"
