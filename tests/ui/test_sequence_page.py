"""The Sequence page with AppTest: Rep motifs on the sequence, the scan heatmap and constraint plot (tiny random
ESM-2 checkpoint through the real loading path), GenBank upload, bad input, and the report in 中文 with its
Markdown download; a genome (DNA) with its genes and map; the page in 中文."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.fakes import sequence_tools

DATA = Path(__file__).resolve().parents[1] / "data"
PCV2_REP = (DATA / "agent" / "pcv2_rep.faa").read_text()
PCV2_GENOME = (DATA / "sequences" / "genomes" / "NC_005148.1.gbk").read_bytes()
# Motif positions of PCV2 Rep NP_937956.1 from the sequence core (1-based starts, as the page shows them).
MOTIF_STARTS = {"RCR motif I": 18, "RCR motif II (HUH)": 57, "SF3 Walker A": 174}


@pytest.fixture
def esm_settings(settings, tiny_esm_checkpoint):
    settings.sequence.esm_model = str(tiny_esm_checkpoint)
    settings.sequence.esm_device = "cpu"
    return settings


def _charts(at) -> list:
    return [el for el in at.get("vega_lite_chart")]


def test_paste_shows_motifs_heatmap_and_constraint(app_test, make_client, esm_settings):
    at = app_test(make_client())
    at.switch_page("views/sequence.py").run()
    at.text_area(key="seq_text").set_value(PCV2_REP).run()
    at.button(key="seq_analyse").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]

    assert at.subheader[0].value.startswith("NP_937956.1 · 314 aa")
    assert any("CRESS Rep" in m.value for m in at.markdown)
    html = at.get("html")[0].proto.body
    assert html.count("<mark") >= 6 * 4 and "RCR motif I" in html and "SF3 Walker A" in html
    table = at.dataframe[0].value
    starts = dict(zip(table["motif"], table["start"]))
    for name, start in MOTIF_STARTS.items():
        assert starts[name] == start
    charts = _charts(at)
    assert len(charts) == 2
    heatmap, profile = (c.proto.spec for c in charts)
    assert "Mutation scan" in heatmap and "score" in heatmap
    assert "constraint" in profile and "motif" in profile
    assert any("esm2_t2_tiny_random" in c.value for c in at.caption)


def test_genbank_upload_translates_the_rep_cds(app_test, make_client, esm_settings):
    at = app_test(make_client())
    at.switch_page("views/sequence.py").run()
    at.file_uploader(key="seq_file").set_value(("NC_005148.1.gbk", PCV2_GENOME, "text/plain")).run()
    at.toggle(key="seq_do_scan").set_value(False)
    at.button(key="seq_analyse").click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value.startswith("NP_937956.1 · 314 aa")
    infos = " ".join(i.value for i in at.info)
    assert "3 proteins in the input" in infos
    assert any("Translated from NC_005148.1" in c.value for c in at.caption)
    assert not _charts(at) and any("Mutation scan not run" in c.value for c in at.caption)  # the toggle, honoured
    # DNA: the genome (length, topology, genes) and its map
    assert any("1768 bp" in m.value and "circular" in m.value for m in at.markdown), [m.value for m in at.markdown]
    genes = at.dataframe[1].value
    assert genes.shape[0] >= 2 and "gene" in genes.columns
    assert at.session_state["seq_genome"]["map_png_base64"] and at.get("image"), "no genome map"


def test_the_page_speaks_chinese_and_the_report_follows(app_test, make_client):
    at = app_test(make_client())
    at.session_state["lang"] = "zh"
    at.switch_page("views/sequence.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "序列分析"
    assert at.radio(key="seq_lang").value == "zh"  # the report's language follows the UI's
    at.button(key="seq_analyse").click().run()
    assert any(e.value == "请先粘贴或上传序列。" for e in at.error)


def test_bad_input_is_a_readable_error(app_test, make_client):
    at = app_test(make_client())
    at.switch_page("views/sequence.py").run()
    at.text_area(key="seq_text").set_value(">broken\nMPSKK123JJ").run()
    at.button(key="seq_analyse").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert errors and "Invalid protein sequence" in errors[0] and "'1' is not an amino acid letter" in errors[0]


def test_scan_without_a_model_still_shows_the_annotation(app_test, make_client, settings, tmp_path):
    settings.sequence.esm_model = str(tmp_path / "missing.pt")
    at = app_test(make_client())
    at.switch_page("views/sequence.py").run()
    at.text_area(key="seq_text").set_value(PCV2_REP).run()
    at.button(key="seq_analyse").click().run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value.shape[0] == 6
    assert any(w.value.startswith("Mutation scan unavailable:") for w in at.warning)


def test_report_in_chinese_with_markdown_download(app_test, make_client, make_service, esm_settings):
    at = app_test(make_client(service=make_service(tools=sequence_tools(esm=True))))
    at.switch_page("views/sequence.py").run()
    at.text_area(key="seq_text").set_value(PCV2_REP).run()
    at.radio(key="seq_lang").set_value("zh")
    at.button(key="seq_report_btn").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    report = at.session_state["seq_report"]
    assert report["lang"] == "zh" and "序列分析报告" in report["markdown"] and "CRESS Rep 注释" in report["markdown"]
    assert any("序列分析报告" in m.value for m in at.markdown)
    download = at.get("download_button")[0]
    assert download.proto.label == "Download Markdown"
