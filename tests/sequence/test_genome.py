"""Genome annotation on real genomes (tests/data/sequences/genomes, provenance in SOURCE.md): genes with circular
wrap, Rep (spliced mastrevirus Rep), capsid, origin stem-loop (ViennaRNA), negatives, GenBank and map output, CLI."""

from __future__ import annotations

import io
import json

import jsonschema
import pytest
import typer
from Bio import SeqIO
from Bio.Seq import Seq
from typer.testing import CliRunner

from mcp_servers.sequence.errors import InputError
from mcp_servers.sequence.genome import GENOME_SCHEMA, annotate_genome, genome_map_png, to_genbank
from mcp_servers.sequence.genome.rep_adapter import BACKEND
from tests.fixtures.sequence import SEQ_DATA

GENOMES = SEQ_DATA / "genomes"


def _text(name: str) -> str:
    return (GENOMES / name).read_text()


def _seq(name: str) -> str:
    return "".join(_text(name).splitlines()[1:]).upper()


def _one(text: str, **kw) -> dict:
    res = annotate_genome(text, **kw)
    jsonschema.validate(res, GENOME_SCHEMA)
    assert len(res["records"]) == 1
    return res["records"][0]


def _role(rec: dict, role: str) -> list[dict]:
    return [g for g in rec["genes"] if g["role"] == role]


def _ncbi(acc: str, product: str) -> str:
    for line in (GENOMES / "ncbi_features.tsv").read_text().splitlines():
        f = line.split("\t")
        if f[0] == acc and f[5] == product:
            return f[4]
    raise KeyError((acc, product))


@pytest.fixture(scope="module")
def pcv2() -> dict:
    return _one(_text("NC_005148.1.gbk"))


def test_pcv2_organisation_and_origin(pcv2):
    assert pcv2["topology"] == "circular" and pcv2["is_cress"] == "yes" and pcv2["length"] == 1768
    (rep,), (cap,) = _role(pcv2, "rep"), _role(pcv2, "cap")
    # NCBI: Rep ORF1 51..995 on the virion (+) strand, Cap ORF2 complement(1034..1735): ambisense
    assert (rep["start"], rep["end"], rep["strand"], rep["protein_length"]) == (50, 995, 1, 314)
    assert rep["rep_call"]["call"] == "yes" and rep["exons"] is None
    assert (cap["start"], cap["end"], cap["strand"], cap["protein_length"]) == (1033, 1735, -1, 233)
    assert pcv2["organisation"] == "ambisense"
    o = pcv2["origin"]
    # PCV2 carries AAGTATTAC (PCV1 TAGTATTAC); it spans the record's end, and the genome is numbered from the nick
    assert (o["nonanucleotide"], o["start"], o["strand"]) == ("AAGTATTAC", 1761, 1)
    assert o["nick_after"] == 1767 and o["stem_length"] >= 10 and 9 <= o["loop_length"] <= 12
    if BACKEND == "rep_call":  # the profile-HMM caller classifies the Rep
        fam = pcv2["family"]
        assert fam["name"] == "Circoviridae" and fam["score"] > 0 and fam["nearest"]["accession"]


def test_fasta_and_genbank_agree(pcv2):
    fasta = _one(_text("NC_005148.1.fna"))
    assert [(g["role"], g["start"], g["end"]) for g in fasta["genes"]] == \
        [(g["role"], g["start"], g["end"]) for g in pcv2["genes"]]
    assert fasta["topology_reason"].startswith("default") and pcv2["topology_reason"] == "GenBank LOCUS line"


@pytest.mark.parametrize("shift", [300, 900])
def test_rotated_pcv2_rep_crosses_origin(pcv2, shift):
    seq = _seq("NC_005148.1.fna")
    rec = _one(f">rot\n{seq[shift:] + seq[:shift]}\n")
    (rep,) = _role(rec, "rep")
    n = 1768
    assert rep["end"] < rep["start"]
    assert (rep["start"], rep["end"]) == ((50 - shift) % n, (995 - shift) % n)
    assert rep["protein"] == _role(pcv2, "rep")[0]["protein"]
    assert rec["origin"]["start"] == (1761 - shift) % n and rec["origin"]["nick_after"] == (1767 - shift) % n
    gb = SeqIO.read(io.StringIO(to_genbank({"records": [rec]})), "genbank")
    cds = next(f for f in gb.features if f.type == "CDS" and "Rep" in f.qualifiers.get("product", [""])[0])
    assert len(cds.location.parts) == 2 and str(cds.translate(gb.seq, cds=True)) == rep["protein"]


def test_reverse_complement_puts_rep_on_minus_strand(pcv2):
    rc = str(Seq(_seq("NC_005148.1.fna")).reverse_complement())
    rec = _one(f">rc\n{rc}\n")
    (rep,) = _role(rec, "rep")
    assert (rep["start"], rep["end"], rep["strand"]) == (1768 - 995, 1768 - 50, -1)
    # the nonanucleotide now reads on the - strand; the nick stays between the record's last and first base
    o = rec["origin"]
    assert (o["nonanucleotide"], o["strand"], o["start"], o["nick_after"]) == ("AAGTATTAC", -1, 1766, 1767)


def test_mastrevirus_spliced_rep():
    rec = _one(_text("NC_013464.1.fna"))
    (rep,) = _role(rec, "rep")
    assert rec["is_cress"] == "yes" and rep["strand"] == -1 and rep["rep_call"]["call"] == "yes"
    # NCBI: complement(join(1442..1844,1931..2592)); exons here in transcript order
    (e1a, e1b), (e2a, e2b) = rep["exons"]
    assert (e1b, e2a) == (2592, 1441) and abs(e1a - 1930) <= 6 and abs(e2b - 1844) <= 6
    ncbi = str(Seq(_seq("NC_013464.1.fna")[1441:1844] + _seq("NC_013464.1.fna")[1930:2592])
               .reverse_complement().translate()).rstrip("*")
    assert abs(len(rep["protein"]) - len(ncbi)) <= 2 and rep["protein"][:200] == ncbi[:200]
    assert rep["protein"][-100:] == ncbi[-100:]
    repa = [g for g in rec["genes"] if g.get("product", "").startswith("RepA")]
    assert repa and repa[0]["rep_call"]["call"] in ("partial", "huh_only")
    if BACKEND == "rep_call":
        assert rec["family"]["name"] == "Geminiviridae"
    assert rec["origin"]["nonanucleotide"] == "TAATATTAC"


@pytest.mark.parametrize("acc", ["NC_004625.1", "DQ178610.1"])
def test_begomovirus_rep_matches_ncbi(acc):
    rec = _one(_text(f"{acc}.fna"))
    (rep,) = _role(rec, "rep")
    loc = _ncbi(acc, "replicase" if acc.startswith("NC") else "Rep")
    a, b = loc.removeprefix("complement(").rstrip(")").split("..")
    assert (rep["start"], rep["end"], rep["strand"]) == (int(a) - 1, int(b), -1)
    assert rec["is_cress"] == "yes" and rec["origin"]["nonanucleotide"] == "TAATATTAC"
    assert rec["origin"]["strand"] == 1
    if BACKEND == "rep_call":
        assert rec["family"]["name"] == "Geminiviridae"


@pytest.mark.parametrize("acc,nona,start", [("NC_010319.1", "TATTATTAC", 12), ("NC_023881.1", "TAGTATTAC", 994)])
def test_nanovirus_and_alphasatellite_rep(acc, nona, start):
    rec = _one(_text(f"{acc}.fna"))
    (rep,) = _role(rec, "rep")
    a, b = _ncbi(acc, {"NC_010319.1": "putative replicase protein",
                        "NC_023881.1": "satellite replication initiator protein 1"}[acc]).split("..")
    assert (rep["start"], rep["end"], rep["strand"]) == (int(a) - 1, int(b), 1)
    assert (rec["origin"]["nonanucleotide"], rec["origin"]["start"]) == (nona, start)
    if acc == "NC_023881.1":  # NCBI: stem_loop join(983..1001,1..12), nonanucleotide join(995..1001,1..2)
        assert rec["origin"]["stem_loop"] == [982, 12] and rec["origin"]["nick_after"] == 1000
    if BACKEND == "rep_call":
        assert rec["family"]["name"] == {"NC_010319.1": "Nanoviridae", "NC_023881.1": "Alphasatellitidae"}[acc]


@pytest.mark.parametrize("name", ["DQ178611.1.fna", "NC_010316.1.fna"])
def test_components_without_rep_are_partial(name):
    rec = _one(_text(name))
    assert rec["is_cress"] == "partial" and not _role(rec, "rep") and rec["origin"]["family_motif"]


@pytest.mark.parametrize("name,span,strand", [
    ("NC_013464.1.fna", (499, 1243), 1),   # NCBI coat protein 500..1243
    ("NC_004625.1.fna", (341, 1115), 1),   # NCBI coat protein 342..1115
    ("DQ178610.1.fna", (129, 915), 1),     # NCBI CP 160..915: same stop, most upstream ATG 10 codons earlier
    ("NC_010316.1.fna", (223, 736), 1),    # NCBI putative coat protein 224..736 (nanovirus DNA-S, no Rep)
    ("DQ178611.1.fna", None, None),        # begomovirus DNA-B: nuclear shuttle and movement proteins, no capsid
    ("NC_001422.1.gbk", None, None),       # phiX174: its capsid is not a CRESS capsid
])
def test_capsid(name, span, strand):
    rec = _one(_text(name))
    caps = _role(rec, "cap")
    if span is None:
        assert not caps
        return
    (cap,) = caps
    assert ((cap["start"], cap["end"]), cap["strand"]) == (span, strand) and "similar to CRESS capsid" in cap["notes"][-1]
    if _role(rec, "rep"):
        assert rec["organisation"] == "ambisense"


@pytest.mark.parametrize("name", ["NC_001422.1.gbk", "pBAD30.gb", "AB000048.gb", "NC_001401.2.fna",
                                  "NC_015783.1.gbk", "NC_000883.2.gbk"])
def test_negatives(name):
    rec = _one(_text(name))
    assert rec["is_cress"] == "no" and not _role(rec, "rep") and rec["origin"] is None and rec["family"] is None


@pytest.mark.parametrize("name, helicase", [("HPV16REF.fna", (864, 2814, 649)), ("NC_000883.2.gbk", (615, 2631, 671))])
def test_sf3_helicase_genomes_are_not_cress(name, helicase):
    # papillomavirus E1 and parvovirus B19 NS1 are SF3 helicases (NS1 also has an HUH-like endonuclease domain):
    # read as closed circles, their genomes still have no Rep and no origin; the helicase gene itself is found
    # (E1 865..2813, NS1 616..2631 as annotated) and called `no`
    rec = _one(_text(name), circular=True)
    assert rec["is_cress"] == "no" and not _role(rec, "rep") and rec["origin"] is None
    (gene,) = [g for g in rec["genes"] if (g["start"], g["end"], g["protein_length"]) == helicase]
    assert gene["rep_call"]["call"] == "no"


def test_anellovirus_is_circular_and_not_cress():
    # Torque teno virus NC_015783.1 (Anelloviridae, 3725 nt, circular per its LOCUS line): an ssDNA circle whose
    # ORF1 (the capsid, ~650 aa) must not be taken for a Rep; RefSeq annotates no CDS, so the ORF is checked by size
    rec = _one(_text("NC_015783.1.gbk"))
    assert rec["topology"] == "circular" and rec["length"] == 3725
    orf1 = max(rec["genes"], key=lambda g: g["protein_length"])
    assert orf1["protein_length"] > 600 and orf1["rep_call"]["call"] == "no"


def test_phix_gene_a_crosses_origin():
    rec = _one(_text("NC_001422.1.gbk"))
    # phiX174 gene A: 3981..136 in NCBI numbering (its most upstream in-frame ATG is 9 codons earlier)
    assert any(g["end"] == 136 and g["start"] > g["end"] and g["strand"] == 1 for g in rec["genes"])


def test_linear_option_and_multi_record():
    text = _text("NC_005148.1.fna") + _text("NC_010319.1.fna")
    res = annotate_genome(text, circular=False)
    assert [r["topology"] for r in res["records"]] == ["linear", "linear"]
    assert [r["is_cress"] for r in res["records"]] == ["yes", "yes"]
    # linear PCV2: the origin stem-loop spans the record's ends, so it is not found
    assert res["records"][0]["origin"] is None


def test_contig_fragment_is_linear_with_a_truncated_rep():
    seq = _seq("NC_005148.1.fna")
    rec = _one(f">contig\n{seq[300:1500]}\n")
    # 1200 nt: segment/satellite size, but no nonanucleotide stem-loop, so not taken as a closed circle
    assert rec["topology"] == "linear" and "none found" in rec["topology_reason"]
    (rep,) = _role(rec, "rep")
    assert rep["start"] <= 2 and rep["end"] == 995 - 300 and rep["start_codon"] == "Edge"
    assert any("runs into the end" in n for n in rep["notes"])
    # nanovirus/satellite-sized complete molecules carry the stem-loop and stay circular
    assert _one(_text("NC_023881.1.fna"))["topology"] == "circular"


def test_bad_input_errors():
    with pytest.raises(InputError, match="protein sequences"):
        annotate_genome(">p\nMPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQGFANFVKKQ\n")
    with pytest.raises(InputError, match="at least 100 nt"):
        annotate_genome("ACGTAGCTAGCATGCATCGATCGTAGCTAGCTAGCTAGCTACG")
    with pytest.raises(InputError, match="ambiguous"):
        annotate_genome("ACGT" * 30 + "N" * 20)
    with pytest.raises(InputError, match="ambiguity codes"):
        annotate_genome("ACGTRYKMSW" * 20)


def test_genbank_and_map(pcv2, tmp_path):
    ssv = annotate_genome(_text("NC_013464.1.fna"))
    gb = SeqIO.read(io.StringIO(to_genbank(ssv)), "genbank")
    assert gb.annotations["topology"] == "circular"
    types = [f.type for f in gb.features]
    assert "stem_loop" in types and "rep_origin" in types
    for f in gb.features:
        if f.type == "CDS":
            assert str(f.translate(gb.seq, cds=False)).rstrip("*")[1:] == f.qualifiers["translation"][0][1:]
    spliced = [f for f in gb.features if f.type == "CDS" and len(f.location.parts) == 2]
    assert spliced and spliced[0].location.strand == -1
    for res, name in ((ssv, "circ.png"), (annotate_genome(_text("AB000048.gb")), "lin.png")):
        out = genome_map_png(res, tmp_path / name)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_cli_genome(tmp_path):
    from mcp_servers.sequence.cli import register

    app = typer.Typer()
    register(app)
    gbk, png = tmp_path / "out.gbk", tmp_path / "map.png"
    res = CliRunner().invoke(app, ["seq", "genome", str(GENOMES / "NC_005148.1.gbk"), "--gbk", str(gbk),
                                   "--map", str(png)])
    assert res.exit_code == 0, res.output
    assert "CRESS: yes" in res.output and "AAGTATTAC at 1761" in res.output
    assert gbk.read_text().startswith("LOCUS") and png.stat().st_size > 10_000
    res = CliRunner().invoke(app, ["seq", "genome", str(GENOMES / "pBAD30.gb"), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["records"][0]["is_cress"] == "no"
    res = CliRunner().invoke(app, ["seq", "genome", "MKVLAAGIVGLLLAAQPAMA" * 5])
    assert res.exit_code == 2 and "protein sequences" in res.output
