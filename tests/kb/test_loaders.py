"""Loaders: every supported format, and a clear IngestError naming the file for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.kb.errors import IngestError
from agent.kb.loaders import expand_paths, load_file
from tests.fixtures.kb import KB_DATA

MB = 2**20


def make_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    if title:
        c.setTitle(title)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            c.drawString(72, y, line)
            y -= 14
        c.showPage()
    c.save()
    return path


def break_page(path: Path, page_no: int) -> None:
    """Give one page a content stream that cannot be decoded (corrupt Flate data)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject, StreamObject

    reader = PdfReader(str(path))
    writer = PdfWriter()
    for i, page in enumerate(reader.pages):
        writer.add_page(page)
    bad = StreamObject()
    bad._data = b"this is not zlib data at all" * 4
    bad[NameObject("/Filter")] = NameObject("/FlateDecode")
    writer.pages[page_no - 1][NameObject("/Contents")] = writer._add_object(bad)
    del DecodedStreamObject
    with path.open("wb") as fh:
        writer.write(fh)


def test_markdown_front_matter_and_sections():
    [doc] = load_file(KB_DATA / "library" / "rep-motifs.md", 50 * MB)
    assert doc.doc_id == "rep-motifs"
    assert doc.title.startswith("Conserved motifs")
    assert doc.year == 2019 and doc.doi == "10.0000/bioagent-test.rep-motifs" and doc.pmid == "90000001"
    assert doc.source == "review"
    assert doc.metadata["references"] == [{"doi": "10.0000/bioagent-test.ref1"}]
    assert [s.section for s in doc.sections] == ["Endonuclease domain", "Helicase domain"]


def test_a_markdown_reference_list_is_stored_as_references(tmp_path, kb_factory):
    from agent.kb.models import SearchFilters

    p = tmp_path / "review.md"
    p.write_text("# Rep review\n\n## Motifs\nMotif III carries the catalytic tyrosine of the Rep nuclease.\n\n"
                 "## 7. Literature cited\n- Ilyina TV, Koonin EV (1992) Conserved sequence motifs in the initiator "
                 "proteins for rolling circle DNA replication. Nucleic Acids Res 20:3279-3285.\n")
    [doc] = load_file(p, MB)
    assert [(s.section, s.kind) for s in doc.sections] == [("Motifs", "body"), ("7. Literature cited", "reference")]
    kb = kb_factory([p], embedding={"multilingual": False})
    q = "conserved sequence motifs initiator proteins rolling circle DNA replication"
    assert all(h.chunk_kind != "reference" for h in kb.search(q, k=5))  # evidence never quotes the list
    assert any(h.chunk_kind == "reference" for h in kb.search(q, k=5, filters=SearchFilters(include_references=True)))


def test_markdown_without_front_matter_uses_h1_and_file_source(tmp_path):
    p = tmp_path / "plain.md"
    p.write_text("# A heading title\n\nSome body text.\n")
    [doc] = load_file(p, MB)
    assert doc.title == "A heading title" and doc.source == "file" and doc.year is None


def test_markdown_bad_yaml_names_the_file(tmp_path):
    p = tmp_path / "bad.md"
    p.write_text("---\ntitle: [unclosed\n---\nbody\n")
    with pytest.raises(IngestError, match=r"bad\.md.*front matter"):
        load_file(p, MB)


def test_markdown_bad_year(tmp_path):
    p = tmp_path / "year.md"
    p.write_text("---\nyear: last spring\n---\nbody\n")
    with pytest.raises(IngestError, match=r"year\.md.*year"):
        load_file(p, MB)


def test_text_file():
    [doc] = load_file(KB_DATA / "notes.txt", MB)
    assert doc.title == "Laboratory notes on nanovirus segments"
    assert "multipartite" in doc.sections[0].text


def test_pdf_keeps_page_numbers(tmp_path):
    p = make_pdf(tmp_path / "paper.pdf", ["First page about Rep.", "Second page about capsids."], title="A PDF paper")
    [doc] = load_file(p, MB)
    assert doc.title == "A PDF paper"
    assert [(s.page, "Rep" in s.text) for s in doc.sections] == [(1, True), (2, False)]


def test_pdf_bad_page_is_skipped_with_a_warning(tmp_path):
    p = make_pdf(tmp_path / "broken.pdf", ["Page one text.", "Page two text.", "Page three text."])
    break_page(p, 2)
    [doc] = load_file(p, MB)
    assert [s.page for s in doc.sections] == [1, 3]
    assert len(doc.warnings) == 1 and "broken.pdf" in doc.warnings[0] and "page 2" in doc.warnings[0]


def test_pdf_without_text_and_fake_pdf(tmp_path):
    empty = make_pdf(tmp_path / "scan.pdf", [""])
    with pytest.raises(IngestError, match=r"scan\.pdf.*no extractable text"):
        load_file(empty, MB)
    fake = tmp_path / "fake.pdf"
    fake.write_text("just text pretending")
    with pytest.raises(IngestError, match=r"fake\.pdf.*not a PDF"):
        load_file(fake, MB)
    trunc = tmp_path / "trunc.pdf"
    trunc.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    with pytest.raises(IngestError, match=r"trunc\.pdf"):
        load_file(trunc, MB)


def test_jsonl_records():
    docs = load_file(KB_DATA / "records.jsonl", MB)
    assert [d.doc_id for d in docs] == ["rec:smaco", "rec:redondo", "rec:cyclo"]
    assert docs[1].pmid == "90000007" and docs[0].year == 2018 and docs[0].source == "metagenomics"
    assert docs[2].source == "metagenomics"


@pytest.mark.parametrize(
    "lines, match",
    [
        (['{"id": "a", "text": "ok"}', "{not json"], r"bad\.jsonl:2: invalid JSON"),
        (['{"id": "a"}'], r"bad\.jsonl:1: invalid record.*text"),
        (['{"id": "a", "text": "x"}', '{"id": "a", "text": "y"}'], r"bad\.jsonl:2: duplicate id 'a'"),
        (['["a list"]'], r"bad\.jsonl:1: each line must be a JSON object"),
        (['{"id": "a", "text": "   "}'], r"bad\.jsonl:1: .*empty"),
        (["", "  "], r"bad\.jsonl: (the file has no text|no records)"),
    ],
)
def test_jsonl_bad_line_names_file_and_line(tmp_path, lines, match):
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(IngestError, match=match):
        load_file(p, MB)


def test_unsupported_empty_binary_oversized_and_missing(tmp_path):
    cases = {}
    (tmp_path / "table.xlsx").write_bytes(b"PK\x03\x04")
    cases["table.xlsx"] = "unsupported file type '.xlsx'"
    (tmp_path / "empty.md").write_text("")
    cases["empty.md"] = "empty"
    (tmp_path / "blank.txt").write_text("  \n\n ")
    cases["blank.txt"] = "no text"
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    cases["image.txt"] = "binary"
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ol\xe9".encode("latin-1"))
    cases["latin1.txt"] = "not UTF-8"
    (tmp_path / "big.txt").write_text("word " * 300_000)
    cases["big.txt"] = "over the limit"
    cases["missing.md"] = "no such file"
    for name, msg in cases.items():
        with pytest.raises(IngestError) as err:
            load_file(tmp_path / name, MB)
        assert name in str(err.value) and msg in str(err.value), str(err.value)
        assert err.value.path and name in err.value.path


def test_front_matter_only_markdown(tmp_path):
    p = tmp_path / "meta.md"
    p.write_text("---\ntitle: Only metadata\n---\n# Heading\n")
    with pytest.raises(IngestError, match=r"meta\.md.*no text"):
        load_file(p, MB)


def test_expand_paths_walks_folders_and_skips_hidden(tmp_path):
    (tmp_path / "a.md").write_text("# A\ntext")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("text")
    (tmp_path / "sub" / "c.docx").write_bytes(b"x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "d.md").write_text("hidden")
    files = expand_paths([tmp_path, tmp_path / "explicit.pdf"])
    names = [(p.name, named) for p, named in files]
    assert names == [("a.md", False), ("b.txt", False), ("explicit.pdf", True)]
    assert json.dumps([str(p) for p, _ in files])  # plain paths
