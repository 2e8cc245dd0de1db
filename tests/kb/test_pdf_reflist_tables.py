"""A reference list printed without a heading, and tables whose chunks carry their caption and column headers
(real papers in tests/data/papers and small hand-made line lists)."""

from __future__ import annotations

from pathlib import Path

import pytest

PAPERS = Path(__file__).resolve().parents[1] / "data" / "papers"


def _lines(rows: list[tuple[str, float, str]], page: int = 9):
    from agent.kb.pdf.layout import Line

    out, top = [], 50.0
    for text, size, column in rows:
        x0 = 42.0 if column == "left" else 300.0
        out.append(Line(text=text, x0=x0, x1=x0 + 240, top=top, bottom=top + size, size=size, page=page, column=column))
        top += size + 3
    return out


BODY = [
    ("Nextflow is a workflow manager that facilitates reproducible pipelines (62). Briefly,", 6.8, "left"),
    ("data were trimmed with Cutadapt (63) and aligned to the reference, as described by", 6.8, "left"),
    ("Smith et al. (2019) and in earlier work [12, 14]; SNPGenie estimates the mean", 6.8, "left"),
    ("number of pairwise differences per site", 6.8, "left"),
]
REFS = [
    ("1. D. Sauter, F. Kirchhoff, Key viral adaptations preceding the AIDS pandemic. Cell Host", 5.8, "left"),
    ("Microbe 25, 27–38 (2019).", 5.8, "left"),
    ("2. K. G. Andersen, A. Rambaut, The proximal origin of SARS-CoV-2. Nat. Med. 26, 450–452", 5.8, "left"),
    ("(2020).", 5.8, "left"),
    ("3. P. Zhou et al., A pneumonia outbreak associated with a new coronavirus of probable", 5.8, "left"),
    ("bat origin. Nature 579, 270–273 (2020).", 5.8, "left"),
    ("4. A. E. van Aart et al., SARS-CoV-2 infection in cats and dogs in infected mink farms.", 5.8, "left"),
    ("Transbound. Emerg. Dis., 10.1111/tbed.14173 (2021).", 5.8, "left"),
]
TAIL = [("or the nucleotide diversity. Estimates are weighted by allele frequencies.", 6.8, "right")]


def test_numbered_reference_list_without_heading_is_found_and_body_is_not():
    from agent.kb.pdf.references import find_reference_lines, split_entries

    lines = _lines(BODY + REFS + TAIL)
    found = find_reference_lines(lines)
    assert {ln.text for ln in lines if id(ln) in found} == {t for t, _, _ in REFS}
    entries = split_entries([ln for ln in lines if id(ln) in found])
    assert [e.number for e in entries] == [1, 2, 3, 4] and entries[3].year == 2021


def test_a_numbered_protocol_or_two_entries_are_not_a_reference_list():
    from agent.kb.pdf.references import find_reference_lines

    steps = [(f"{i}. Cells were lysed in buffer {i} (50 mM Tris, pH 7.5) for 10 min at 4 °C.", 9.0, "left")
             for i in range(1, 7)]
    assert find_reference_lines(_lines(steps)) == set()  # numbered, but no entry reads like a reference
    assert find_reference_lines(_lines(REFS[:4])) == set()  # two entries are too few to call a list


def test_block_builder_keeps_a_headless_list_out_of_the_body():
    from agent.kb.pdf.clean import build_blocks
    from agent.kb.pdf.layout import Page

    page = Page(number=9, width=600, height=800)
    page.lines = _lines(BODY + REFS + TAIL)
    blocks, refs = build_blocks([page])
    body = " ".join(b.text for b in blocks)
    assert "Cell Host Microbe" not in body and len(refs) == len(REFS)
    assert "pairwise differences per site or the nucleotide diversity" in body  # the body reads across the list


@pytest.fixture(scope="module")
def pnas():
    from agent.kb.pdf import extract

    return extract(str(PAPERS / "bashor2021_pnas.pdf"))


def test_pnas_reference_list_without_heading_is_references(pnas):
    assert [r.number for r in pnas.references] == list(range(1, len(pnas.references) + 1))
    assert len(pnas.references) >= 80
    body = " ".join(b.text for b in pnas.blocks if b.kind != "reference")
    assert "Cell Host Microbe 25, 27–38 (2019)" not in body and "Nat. Commun. 11, 6231" not in body
    assert "pairwise differences per site or the nucleotide diversity" in body
    assert "ACKNOWLEDGMENTS. We are grateful" in body  # the text between the two halves of the list stays


def test_header_rows():
    from agent.kb.pdf.clean import header_rows

    assert header_rows(["Position | CDS | Variant | Species", "21768 | Spike | H69R | Ferret"]) == 1
    assert header_rows(["Viral genome | Mean coverage Total | >1% | >10% >50%", "EBOV | 8,334 | 143 (70)"]) == 1
    assert header_rows(["Total no. of | No. of unique", "Sample | reads | Target virus", "EBOV | 47,328 | 17"]) == 2
    assert header_rows(["Phase | Purpose", "Alignment | FASTA, NEXUS"]) == 0  # no row with numbers follows
    assert header_rows(["Resolution (A) | 2.2", "Space group | P1"]) == 0


def test_table_blocks_carry_caption_and_column_headers():
    from agent.kb.pdf import extract

    x = extract(str(PAPERS / "wilson2016_msystems.pdf"))
    [cdv] = [b for b in x.blocks if b.kind == "table" and "rCDV | 6,165,559" in b.text]
    assert cdv.head.startswith("TABLE 1 Metagenomic deep sequencing results")
    assert "Other viral sequence(s)" in cdv.head and "Other viral sequence(s)" not in cdv.text
    # "No. of SNVs" over Table 2's columns is a column header, not a section heading
    [ebov] = [b for b in x.blocks if b.kind == "table" and "EBOV | 8,334" in b.text]
    assert ebov.section == "TABLE 2" and "Mean coverage" in ebov.head
    assert not any(b.section == "No. of SNVs" for b in x.blocks)


def test_table_chunks_are_cut_between_rows_and_each_starts_with_the_head(embedder):
    from agent.kb.chunking import Chunker
    from agent.kb.loaders import LoadedDocument, Section

    ch = Chunker(embedder.tokenizer, chunk_tokens=60, overlap_tokens=15)
    head = "Table 3 Reads per sample\nSample | Total reads | Virus reads"
    rows = [f"S{i} | {1000 * i + 17:,} | {i * 37}" for i in range(1, 40)]
    doc = LoadedDocument(doc_id="t", title="t", sections=[Section("\n".join(rows), 2, "Table 3", "table", head)])
    chunks = ch.chunk(doc)
    assert len(chunks) > 3 and all(c.kind == "table" and c.page == 2 for c in chunks)
    for c in chunks:
        assert c.text.startswith(head + "\n")
        assert len(ch.tok(c.text, add_special_tokens=False)["input_ids"]) <= 60
        assert all(r in rows for r in c.text.split("\n")[2:])  # whole rows only
    assert [r for c in chunks for r in c.text.split("\n")[2:]] == rows  # every row once, in order


def test_abbreviations_defined_in_text_and_footnote_lists():
    from agent.kb.pdf.abbrev import definitions, long_form, used_in

    assert long_form("rCDV", "we sequenced a recombinant canine distemper virus") == "recombinant canine distemper virus"
    assert long_form("HHV-6", "sequences of Human Herpesvirus 6") == "Human Herpesvirus 6"
    assert long_form("TTVs", "similarity to various members of the family") is None  # no clause as a long form
    assert long_form("ELISA", "by culture and PCR") is None
    defs = definitions(["Stocks of La Crosse virus (LACV) were grown.",
                        "Abbreviations: EBOV, Ebola virus; HPV18, human papillomavirus 18."])
    assert defs == {"LACV": "La Crosse virus", "EBOV": "Ebola virus", "HPV18": "human papillomavirus 18"}
    rows = "EBOV | 47,328 | HPV18 (3)\nLACV | 6,217 | None"
    assert used_in(rows, defs, most=2) == [("EBOV", "Ebola virus"), ("LACV", "La Crosse virus")]  # row labels first
    assert used_in("Ebola virus (EBOV) | 12", defs) == []  # spelled out already


def test_table_rows_in_abbreviations_carry_their_long_forms():
    from agent.kb.pdf import extract

    x = extract(str(PAPERS / "wilson2016_msystems.pdf"))
    [cdv] = [b for b in x.blocks if b.kind == "table" and "rCDV | 6,165,559" in b.text]
    assert "rCDV: recombinant canine distemper virus" in cdv.head
