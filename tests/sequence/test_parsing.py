"""Input parsing and validation: raw, FASTA, GenBank, DNA detection, bad inputs."""

from __future__ import annotations

import io

import pytest

from mcp_servers.sequence import service
from mcp_servers.sequence.errors import (
    InputError,
    InvalidSequenceError,
    NucleotideInputError,
    RecordSelectionError,
    SequenceTooLongError,
)
from mcp_servers.sequence.parsing import find_orfs, read_proteins, select_record
from tests.fixtures.sequence import SEQ_DATA

GENOMES = SEQ_DATA / "genomes"


def test_raw_lowercase_whitespace_and_trailing_stop():
    (rec,) = read_proteins("  mpskk ngrsg\nPQPHK**\n")
    assert rec.sequence == "MPSKKNGRSGPQPHK"
    assert rec.id == "sequence"


def test_ambiguity_letters_accepted():
    (rec,) = read_proteins("MKXBZUOAL")
    assert rec.sequence == "MKXBZUOAL"


def test_multi_fasta(rep_fasta):
    recs = read_proteins(rep_fasta)
    assert len(recs) == 17
    assert recs[0].id == "NP_937956.1" and len(recs[0]) == 314
    assert "Porcine circovirus 2" in recs[0].description


@pytest.mark.parametrize("text", ["", "   \n\t", None])
def test_empty_input(text):
    with pytest.raises(InputError, match="Empty input"):
        read_proteins(text)


def test_non_protein_letters_name_record_position_letter():
    with pytest.raises(InvalidSequenceError) as exc:
        read_proteins(">rec1 demo\nMKV1LL\n>rec2\nMKJ\n")
    msg = str(exc.value)
    assert "record 'rec1', position 4: '1'" in msg
    assert "record 'rec2', position 3: 'J'" in msg
    assert exc.value.problems == [("rec1", 4, "1"), ("rec2", 3, "J")]


def test_internal_stop_is_an_error():
    with pytest.raises(InvalidSequenceError, match="position 3: '\\*' is an internal stop"):
        read_proteins("MK*LL")


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("junk line\n>a\nMKV\n", "text comes before the first '>'"),
        (">a desc\n", "has a header but no sequence"),
        (">\nMKV\n", "empty header"),
        (">a\nMKV\n>b\n>c\nMK\n", "'b' has a header but no sequence"),
    ],
)
def test_malformed_fasta(text, pattern):
    with pytest.raises(InputError, match=pattern):
        read_proteins(text)


def test_genbank_cds_offered_then_translated(pcv2_rep):
    text = (GENOMES / "NC_005148.1.gbk").read_text()
    with pytest.raises(NucleotideInputError) as exc:
        read_proteins(text)
    assert "NP_937956.1" in str(exc.value) and "translate_dna" in str(exc.value)
    assert {t["id"] for t in exc.value.translations} == {"NP_937956.1", "YP_006355434.1", "NP_937957.1"}
    recs = read_proteins(text, translate_dna=True)
    rep = select_record(recs, "NP_937956.1")
    assert rep.sequence == pcv2_rep
    assert rep.parent == "NC_005148.1" and rep.location == "51..995"


def test_genbank_cds_translations_match_fasta(rep_fasta, control_fasta):
    by_id = {r.id: r.sequence for r in read_proteins(rep_fasta) + read_proteins(control_fasta)}
    for gb in ("NC_005148.1.gbk", "NC_001401.2.excerpt.gbk"):
        for rec in read_proteins((GENOMES / gb).read_text(), translate_dna=True):
            assert rec.sequence == by_id[rec.id]


def _genbank_without_cds() -> str:
    from Bio import SeqIO

    rec = next(SeqIO.parse(str(GENOMES / "NC_005148.1.gbk"), "genbank"))
    rec.features = [f for f in rec.features if f.type != "CDS"]
    buf = io.StringIO()
    SeqIO.write(rec, buf, "genbank")
    return buf.getvalue()


def test_genbank_without_cds_is_a_clear_error():
    text = _genbank_without_cds()
    for translate in (False, True):
        with pytest.raises(NucleotideInputError, match="no CDS features"):
            read_proteins(text, translate_dna=translate)


def test_malformed_genbank():
    with pytest.raises(InputError, match="GenBank"):
        read_proteins("LOCUS       broken\nthis is not genbank\n")


def test_dna_fasta_offers_orfs(pcv2_rep):
    text = (GENOMES / "NC_005148.1.fna").read_text()
    with pytest.raises(NucleotideInputError, match="open reading frames"):
        read_proteins(text)
    recs = read_proteins(text, translate_dna=True)
    assert recs[0].sequence == pcv2_rep  # the longest ORF is the Rep CDS
    assert recs[0].location == "51..995"


def test_orf_finder_both_strands():
    from Bio.Seq import Seq

    orf = "ATG" + "GCT" * 70 + "TAA"
    dna = "CC" + str(Seq(orf).reverse_complement()) + "GG"
    (t,) = find_orfs(dna, min_aa=60)
    assert t.protein == "M" + "A" * 70
    assert t.location.startswith("complement(")


def test_size_limit_50000_residues(settings):
    with pytest.raises(SequenceTooLongError, match="50,000 residues.*limit of 5,000"):
        read_proteins("MKVL" * 12_500, max_residues=5000)
    with pytest.raises(SequenceTooLongError):
        service.annotate_rep("MKVL" * 12_500)


def test_record_selection(rep_fasta):
    recs = read_proteins(rep_fasta)
    with pytest.raises(RecordSelectionError, match="17 records"):
        select_record(recs)
    with pytest.raises(RecordSelectionError, match="No record 'nope'"):
        select_record(recs, "nope")
    assert select_record(recs, "QCD25287.1").id == "QCD25287.1"


def test_service_parse_reports_nucleotides_without_error(settings):
    out = service.parse((GENOMES / "NC_005148.1.gbk").read_text())
    (rec,) = out["records"]
    assert rec["kind"] == "nucleotide" and rec["circular"] is True
    assert [t["id"] for t in rec["translations"]] == ["NP_937956.1", "YP_006355434.1", "NP_937957.1"]
    assert any("translate_dna" in w for w in out["warnings"])
    out = service.parse((GENOMES / "NC_005148.1.gbk").read_text(), translate_dna=True)
    assert [p["id"] for p in out["proteins"]] == ["NP_937956.1", "YP_006355434.1", "NP_937957.1"]


def test_properties(settings, pcv2_rep):
    from Bio.SeqUtils.ProtParam import ProteinAnalysis

    (p,) = service.properties(pcv2_rep)["records"]
    pa = ProteinAnalysis(pcv2_rep)
    assert p["length"] == 314
    assert p["molecular_weight_da"] == pytest.approx(pa.molecular_weight(), abs=0.01)
    assert p["isoelectric_point"] == pytest.approx(pa.isoelectric_point(), abs=0.01)
    assert sum(p["composition"].values()) == 314
    assert p["instability_index"] == pytest.approx(pa.instability_index(), abs=0.01)
    (q,) = service.properties("MKXXL")["records"]
    assert q["excluded_letters"] == {"X": 2} and q["composition"]["K"] == 1


def test_properties_do_not_join_residues_across_ambiguous_letters(settings, pcv2_rep):
    from Bio.SeqUtils.ProtParam import ProteinAnalysis
    from Bio.SeqUtils.ProtParamData import DIWV

    # an X between K and V: the dipeptide KV does not exist and must not count (ProtParam on "MKVL" would count it)
    (q,) = service.properties("MKXVL")["records"]
    expected = 10 * (DIWV["M"]["K"] + DIWV["V"]["L"]) / 4
    assert q["instability_index"] == pytest.approx(expected, abs=0.01)
    assert q["instability_index"] != pytest.approx(ProteinAnalysis("MKVL").instability_index(), abs=0.01)
    # the weight keeps the chain's real length: one X adds about a mean residue, not nothing
    with_x = service.properties(pcv2_rep[:100] + "X" + pcv2_rep[100:])["records"][0]
    plain = service.properties(pcv2_rep)["records"][0]
    assert 100 < with_x["molecular_weight_da"] - plain["molecular_weight_da"] < 140
    b = service.properties(pcv2_rep.replace("D", "B", 1))["records"][0]
    assert abs(b["molecular_weight_da"] - plain["molecular_weight_da"]) < 1.0
    assert "instability index uses only dipeptides" in q["note"]


def test_ambiguous_dna_is_not_a_protein(settings):
    from mcp_servers.sequence.errors import InputError

    dna = "ACGTRYKMSWACGTNNACGTACGTRYACGTACGTRYKMACGTACGT"  # 46 letters, 26% ambiguity codes
    with pytest.raises(InputError, match=r"looks like a DNA/RNA sequence .* ambiguity codes .* above the 10% limit"):
        service.parse(dna)
    with pytest.raises(InputError, match="ambiguity codes"):
        service.properties(">x\n" + dna)
    # a clean DNA and a real protein are unaffected
    assert service.parse("ACGT" * 10)["records"][0]["kind"] == "nucleotide"
    assert service.parse(pcv2_rep_short := "MPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEG")["records"][0]["kind"] \
        == "protein", pcv2_rep_short
