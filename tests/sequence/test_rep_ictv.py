"""ICTV labels for the Rep evaluation (bench/rep_ictv.py): the shipped ICTV VMR subset and the name matching.

Data: tests/data/sequences/ictv_vmr_cress.tsv (ICTV Virus Metadata Resource MSL38 v2, Cressdnaviricota and
Alphasatellitidae rows; SOURCE.md) and rep_eval_subset.faa (evaluation-split CRESSENT Reps, with their virus names).
"""

from __future__ import annotations

import pytest

from bench.rep_ictv import (
    ISOLATE_REPS,
    KEEP,
    VMR_FILE,
    _VMR_COLUMNS,
    PLACEHOLDER_NAME,
    check_labels,
    family_level,
    ictv_label,
    isolate_reps,
    label_proteins,
    name_index,
    read_isolate_reps,
    read_vmr,
    subset_vmr,
    vmr_genomes,
)
from mcp_servers.sequence import rep_family
from mcp_servers.sequence.rep_call import calibration
from mcp_servers.sequence.rep_data import GENUS_FAMILY, Protein, genus_family, read_fasta_text
from tests.fixtures.sequence import SEQ_DATA


@pytest.fixture(scope="module")
def index():
    return name_index(read_vmr(VMR_FILE))


def test_shipped_subset_is_cress_only_and_complete():
    rows = read_vmr(VMR_FILE)
    fams = {r["family"] for r in rows}
    assert {"Circoviridae", "Genomoviridae", "Geminiviridae", "Nanoviridae", "Smacoviridae",
            "Alphasatellitidae"} <= fams
    assert not fams & {"Microviridae", "Inoviridae", "Parvoviridae", "Anelloviridae"}
    assert all(r["species"] and r["genus"] and r["exemplar"] in ("E", "A") for r in rows)
    # every species has exactly one exemplar
    ex = [r["species"] for r in rows if r["exemplar"] == "E"]
    assert len(ex) == len(set(ex)) == len({r["species"] for r in rows})


@pytest.mark.parametrize("organism, family, genus", [
    ("Porcine circovirus 2", "Circoviridae", "Circovirus"),
    ("porcine  circovirus 2 ", "Circoviridae", "Circovirus"),  # case and whitespace only
    ("Circovirus porcine2", "Circoviridae", "Circovirus"),  # the species name
    ("Beak and feather disease virus", "Circoviridae", "Circovirus"),
    ("Sclerotinia gemycircularvirus 1", "Genomoviridae", "Gemycircularvirus"),
    ("Banana bunchy top virus", "Nanoviridae", "Babuvirus"),
    ("Valinorvirus eriador", "Nenyaviridae", "Valinorvirus"),
    ("Faba bean necrotic stunt alphasatellite", "Alphasatellitidae", "Mivedwarsatellite"),
])
def test_named_viruses_get_their_ictv_family(index, organism, family, genus):
    lab = ictv_label(organism, index)
    assert lab is not None and (lab.family, lab.genus) == (family, genus)


@pytest.mark.parametrize("organism", [
    # the VMR lists the exemplar of Galvornvirus isengard (Nenyaviridae) under the GenBank organism "Circoviridae sp."
    "Circoviridae sp.", "Genomoviridae sp.", "Cressdnaviricota sp.", "uncultured virus", "Circovirus sp.",
    "CRESS virus sp.", "Circoviridae 13 LDMD-2013",
    # no partial, prefix or fuzzy matches
    "Porcine circovirus 2 strain JX0301", "porcine circovirus", "Porcine circovirus-2", "Giant panda circovirus 2", "",
])
def test_placeholders_and_near_names_get_no_label(index, organism):
    assert ictv_label(organism, index) is None


def test_placeholder_names_are_in_the_vmr_but_not_in_the_index(index):
    names = {n.strip().lower() for r in read_vmr(VMR_FILE) for n in r["virus_names"].split(";")}
    assert {"circoviridae sp.", "genomoviridae sp.", "uncultured virus"} <= names
    assert not any(PLACEHOLDER_NAME.search(k) for k in index)


def test_a_name_given_to_two_species_is_dropped():
    rows = [{"family": "Circoviridae", "genus": "Circovirus", "species": "Circovirus a", "virus_names": "x virus 1"},
            {"family": "Circoviridae", "genus": "Circovirus", "species": "Circovirus a", "virus_names": "x virus 1"},
            {"family": "Circoviridae", "genus": "Cyclovirus", "species": "Cyclovirus b",
             "virus_names": "x virus 2; y virus"},
            {"family": "Circoviridae", "genus": "Circovirus", "species": "Circovirus c", "virus_names": "y virus"}]
    idx = name_index(rows)
    assert "y virus" not in idx  # one family, but two species: a common name, not an identifier
    assert idx["x virus 1"].species == "Circovirus a"  # two isolates of one species
    assert (idx["x virus 2"].genus, idx["x virus 2"].via) == ("Cyclovirus", "virus name")
    assert idx["circovirus a"].via == "species"


def test_common_names_of_several_species_get_no_label(index):
    # the VMR names 8 species of Circovirus and Cyclovirus "rodent circovirus"; CRESSENT's Kirkoviridae file (from the
    # ICTV report's accessions) holds "Rodent circovirus" Reps too
    assert ictv_label("Rodent circovirus", index) is None
    assert ictv_label("Bat circovirus", index) is None


def test_evaluation_subset_records_are_labelled_by_their_virus_name(index):
    recs = [(h, s) for h, s in read_fasta_text((SEQ_DATA / "rep_eval_subset.faa").read_text()) if " rep:" in h]
    prots = [Protein(h.split()[0].split(".")[0], h, h.split()[1][4:], "cress_rep", s, "") for h, s in recs]
    labels = label_proteins(prots, index)
    got = {acc: lab.family for acc, lab in labels.items()}
    assert got["ARE29794"] == "Circoviridae"  # Beak and feather disease virus
    assert got["ADV18492"] == got["WDD44972"] == "Nanoviridae"
    assert "ARE29898" not in labels  # "Sida leaf curl alphasatellite" names two species
    assert got["YP_010784522"] == "Nenyaviridae"  # organism given as the species name
    for acc in ("QXN75653", "UOF81644", "WCR62181", "BDI21134", "UPP37809", "ASH99186"):
        assert acc not in labels  # Genomoviridae sp., Cressdnaviricota sp., Smacovirus sp., unnamed by ICTV MSL38
    assert all(lab.matched == " ".join(p.virus.lower().split()) for p in prots if (lab := labels.get(p.accession)))


def test_subset_vmr_keeps_cress_rows_and_rejects_other_tables(tmp_path):
    header = ["Phylum", *_VMR_COLUMNS]
    rows = [["Cressdnaviricota", "Circoviridae", "Circovirus", "Circovirus porcine2", "E", "porcine circovirus 2",
             "PCV2", "JX0301", "AY651850", "NA"],
            ["NA", "Alphasatellitidae", "Mivedwarsatellite", "M a", "E", "m a", "NA", "NA", "X1", "NA"],
            ["Phixviricota", "Microviridae", "Sinsheimervirus", "Sinsheimervirus phiX174", "E", "phiX174", "", "",
             "J02482", ""]]
    vmr = tmp_path / "vmr.csv"
    vmr.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    out = subset_vmr(vmr)
    assert [r["family"] for r in out] == ["Circoviridae", "Alphasatellitidae"]
    assert out[0]["genbank"] == "AY651850" and out[0]["refseq"] == "" and out[1]["abbreviations"] == ""
    assert set(KEEP) <= set(header)
    bad = tmp_path / "bad.csv"
    bad.write_text("Family,Genus\nCircoviridae,Circovirus\n")
    with pytest.raises(ValueError, match="missing column"):
        subset_vmr(bad)


def test_genus_families_agree_with_the_ictv_vmr():
    vmr = {r["genus"].lower(): r["family"] for r in read_vmr(VMR_FILE)}
    checked = [g for g in GENUS_FAMILY if g in vmr]
    assert len(checked) >= 25  # kirko-, pecovirus (families after MSL38) and the redondovirus species words aside
    assert all(GENUS_FAMILY[g] == vmr[g] for g in checked)
    smaco = [g for g in vmr if g.endswith("smacovirus")]
    assert smaco and all(genus_family(g) == vmr[g] == "Smacoviridae" for g in smaco)
    assert genus_family("Smacovirus") is None and genus_family("Torquevirus") is None


def test_genus_is_reported_only_inside_its_ictv_family():
    seq = read_fasta_text((SEQ_DATA / "rep_eval_subset.faa").read_text())[0][1]
    cal = calibration()

    def genus_of(family: str, genus: str):
        ref = rep_family.Reference("REF1", family, genus, seq, rep_family._kmers(seq))
        out = rep_family.classify_hits(seq, [], cal, refs=[ref])
        assert out["name"] == family and out["nearest"]["identity"] == 1.0
        return out.get("genus")

    assert genus_of("Circoviridae", "Circovirus") == "Circovirus"
    assert genus_of("Draupnirviridae", "Circovirus") is None  # e.g. "Mosquito circovirus" filed under Draupnirviridae
    assert genus_of("Smacoviridae", "Porprismacovirus") == "Porprismacovirus"


def test_rep_eval_groups_ictv_accuracy_by_the_ictv_family(index):
    from bench.rep_eval import _ictv_accuracy

    def prot(acc, family, virus):
        return Protein(acc, f"{acc}.1 Rep [{virus}]", family, "cress_rep", "M" * 300, "")

    ev = [prot("A1", "Circoviridae", "Porcine circovirus 2"),
          prot("A2", "Circoviridae", "Beak and feather disease virus"),
          prot("A3", "Circoviridae", "Circoviridae sp."), prot("A4", "Nanoviridae", "Banana bunchy top virus")]
    fam = lambda name: {"family": {"name": name, "nearest": None, "runner_up": None}}  # noqa: E731
    new = [fam("Circoviridae"), fam("Kirkoviridae"), fam("Circoviridae"), fam("Alphasatellitidae")]
    out = _ictv_accuracy(ev, new, list(range(4)), label_proteins(ev, index))
    assert set(out) == {"Circoviridae", "Nanoviridae"}  # A3 has no ICTV label
    assert out["Circoviridae"]["n"] == 2 and out["Circoviridae"]["accuracy"] == 0.5
    assert out["Circoviridae"]["misses"]["A2"]["predicted"] == "Kirkoviridae"
    assert out["Nanoviridae"]["misses"]["A4"]["ictv_species"] == "Banana bunchy top virus"


def _eval_subset_reps() -> list[Protein]:
    recs = [(h, s) for h, s in read_fasta_text((SEQ_DATA / "rep_eval_subset.faa").read_text()) if " rep:" in h]
    return [Protein(h.split()[0].split(".")[0], h, h.split()[1][4:], "cress_rep", s, "") for h, s in recs]


def test_shipped_isolate_reps_are_reps_of_the_genomes_the_vmr_lists_for_their_species():
    import csv

    genomes = vmr_genomes(read_vmr(VMR_FILE))
    with open(ISOLATE_REPS, encoding="utf-8") as fh:
        rows = list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))
    assert len(rows) >= 250 and len({r["species"] for r in rows}) >= 250
    for r in rows:
        assert genomes[r["genome"].split(".")[0]] == r["species"]
        assert set(r["translation"]) <= set("ACDEFGHIKLMNPQRSTVWYX") and len(r["translation"]) >= 150
        assert "enhanc" not in r["product"].lower()
    assert {r["family"] for r in rows} >= {"Circoviridae", "Genomoviridae", "Smacoviridae", "Nanoviridae"}


def test_isolate_reps_are_read_from_genbank_records_the_vmr_lists():
    gbk = sorted((SEQ_DATA / "genomes").glob("*.gbk"))
    got = isolate_reps(gbk, read_vmr(VMR_FILE))
    listed = vmr_genomes(read_vmr(VMR_FILE))
    assert got, "no test genome is a VMR isolate"
    assert all(r["genome"].split(".")[0] in listed for r in got)
    shipped = {pid: s for sp in read_isolate_reps().values() for pid, s in sp}
    for r in got:  # the shipped table was written by the same function from NCBI's own files
        assert shipped.get(r["protein_id"], r["translation"]) == r["translation"]
    assert not any(r["genome"].startswith(("NC_005148", "NC_002076")) for r in got)  # PCV2 RefSeq: not in the VMR


def test_name_labels_are_checked_against_the_isolate_reps_of_the_species(index):
    prots = _eval_subset_reps()
    labels = label_proteins(prots, index)
    reps = read_isolate_reps()
    checks = check_labels(prots, labels, reps)
    assert set(checks) == set(labels)
    # ADV18492 is filed under "Banana bunchy top virus", but it is an alphasatellite Rep: far from the BBTV DNA-R Rep
    adv = checks["ADV18492"]
    assert adv.status == "rejected" and adv.isolate_rep == "NP_604483.1" and adv.identity < family_level() == 0.4
    # the BBTV DNA-R Rep itself, under the same name, is confirmed
    bbtv = dict(reps["Banana bunchy top virus"])["NP_604483.1"]
    own = Protein("NP_604483", "NP_604483.1 Rep [Banana bunchy top virus]", "Nanoviridae", "cress_rep", bbtv, "")
    got = check_labels([own], label_proteins([own], index), reps)["NP_604483"]
    assert got.status == "confirmed" and got.identity == 1.0
    # a species without an isolate Rep in the files leaves its label unchecked
    assert check_labels([own], label_proteins([own], index), {})["NP_604483"].status == "unchecked"
    assert {c.status for c in checks.values()} >= {"confirmed", "rejected"}
    assert all(c.status != "confirmed" or c.identity >= 0.4 for c in checks.values())
