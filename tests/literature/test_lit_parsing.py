"""Parsing recorded real E-utilities and Europe PMC responses (tests/data/literature, see SOURCE.md)."""

from __future__ import annotations

import pytest

from mcp_servers.literature.errors import LiteratureInputError, MalformedResponse, RemoteQueryError
from mcp_servers.literature.europepmc import clean_abstract, parse_europepmc_search
from mcp_servers.literature.pubmed import normalize_date, normalize_pmids, parse_esearch, parse_pubmed_xml
from tests.fixtures.literature import LIT_DATA


def _read(name: str) -> bytes:
    return (LIT_DATA / name).read_bytes()


# ---------------------------------------------------------------------------------------------- E-utilities
def test_esearch_ids_count_and_translation():
    result = parse_esearch(_read("esearch_pnas.xml"))
    assert result.count == 2652
    assert result.pmids == ["11121077", "11121076", "11121075", "11121074", "11121073", "11121072"]
    assert result.query_translation == '"Proc Natl Acad Sci U S A"[Journal] AND 97[vi]'
    assert result.warnings == []


def test_esearch_without_hits_keeps_ncbi_warnings():
    result = parse_esearch(_read("esearch_no_hits.xml"))
    assert result.count == 0 and result.pmids == []
    assert "PhraseNotFound: abcXYZ" in result.warnings
    assert "OutputMessage: No items found." in result.warnings


def test_structured_abstract_sections_are_joined_with_labels():
    [article] = parse_pubmed_xml(_read("efetch_structured_abstract.xml"))
    assert article.pmid == "27797938"
    assert article.title.startswith("Leucocyte telomere length, genetic variants at the TERT gene region")
    lines = article.abstract.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["OBJECTIVE", "DESIGN", "RESULTS", "CONCLUSIONS"]
    assert "(TERT) gene region" in lines[0]  # inline <i>TERT</i> flattened
    assert "ptrend=0.048" in lines[2] and "r2<0.25" in lines[2]  # <sub>, <sup> and &lt; flattened
    assert article.journal == "Gut"
    assert article.year == 2017
    assert article.doi == "10.1136/gutjnl-2016-312510"
    assert article.pmcid == "PMC5442267"
    assert article.authors[:2] == ["Ying Bao", "Jennifer Prescott"]
    assert len(article.authors) == 22
    assert "Pancreatic Neoplasms" in article.mesh_terms
    assert article.url == "https://pubmed.ncbi.nlm.nih.gov/27797938/"


def test_two_records_doi_from_article_id_list():
    articles = parse_pubmed_xml(_read("efetch_pubmed2.xml"))
    assert [a.pmid for a in articles] == ["11748933", "11700088"]
    first = articles[0]
    assert first.doi == "10.1006/cryo.2001.2328"
    assert first.journal == "Cryobiology" and first.year == 2001
    assert first.abstract.startswith("This study subdivides the cryopreservation procedure")
    assert "Cryopreservation" in first.mesh_terms


def test_record_without_abstract_and_old_record():
    no_abstract, old = parse_pubmed_xml(_read("efetch_pubmed1.xml"))
    assert no_abstract.pmid == "12091962" and no_abstract.abstract == ""
    assert no_abstract.title == "The treatment of AIDS behind the walls of correctional facilities."
    assert no_abstract.year == 1990
    assert old.pmid == "9997" and old.year == 1976 and old.doi is None
    assert old.abstract.startswith("Electron paramagnetic resonance")


def test_collective_author_and_mathml_are_read():
    [article] = parse_pubmed_xml(_read("efetch_collective_author.xml"))
    assert "Canadian Respiratory Research Network" in article.authors
    [math] = parse_pubmed_xml(_read("efetch_mathml.xml"))
    assert math.pmid == "30108519"
    assert "Blood Relationship" in math.title
    assert "mml:" not in math.abstract and "V . O 2 m a x" in math.abstract  # MathML flattened to its text
    assert math.doi == "10.3389/fphys.2018.01034"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<PubmedArticleSet><PubmedArticle>",  # truncated
        b"<html><body>Service unavailable</body></html>",  # a proxy's error page with status 200
        b'{"esearchresult": {}}',  # JSON where XML was asked for
    ],
)
def test_malformed_efetch_is_an_error_not_a_crash(body):
    with pytest.raises(MalformedResponse) as info:
        parse_pubmed_xml(body)
    assert str(info.value).startswith("PubMed returned a malformed response")


def test_efetch_error_element_is_reported():
    body = b"<eFetchResult><ERROR>Cannot retrieve history data.</ERROR></eFetchResult>"
    with pytest.raises(RemoteQueryError, match="Cannot retrieve history data"):
        parse_pubmed_xml(body)


def test_esearch_error_and_bad_ids():
    with pytest.raises(RemoteQueryError, match="Invalid query"):
        parse_esearch(b"<eSearchResult><ERROR>Invalid query</ERROR></eSearchResult>")
    with pytest.raises(MalformedResponse):
        parse_esearch(b"<eSearchResult><Count>1</Count><IdList><Id>abc</Id></IdList></eSearchResult>")
    with pytest.raises(MalformedResponse):
        parse_esearch(b"<eSearchResult><IdList/></eSearchResult>")


def test_pmid_and_date_normalisation():
    assert normalize_pmids(["PMID: 123", "pmid:0456", 789, "123", "11,12 13"]) == ["123", "456", "789", "11", "12", "13"]
    for bad in ["abc", "12a", "0", "1234567890"]:
        with pytest.raises(LiteratureInputError):
            normalize_pmids([bad])
    assert normalize_date("2019") == "2019"
    assert normalize_date("2019-5") == "2019/05"
    assert normalize_date("2019/05/01") == "2019/05/01"
    assert normalize_date(None) is None
    for bad in ["19", "2019-13", "May 2019"]:
        with pytest.raises(LiteratureInputError):
            normalize_date(bad)


# ----------------------------------------------------------------------------------------------- Europe PMC
def test_europepmc_core_results():
    hit_count, articles, cursor = parse_europepmc_search(_read("europepmc_search_core.json"))
    assert hit_count == 5059039 and cursor == "AoIIP4ZawSg1MzEyODI1MA=="
    assert [a.id for a in articles] == ["39709209", "39709208", "40468710"]
    subscription, erratum, study = articles
    assert subscription.authors == ["Schoenfeld JD", "Haas-Kogan DA", "O'Neill AF"]
    assert subscription.journal == "Lancet (London, England)" and subscription.year == 2025
    assert subscription.open_access_links == [] and not subscription.is_open_access
    # free (not OA-licensed) Europe PMC copies count as free full-text links
    assert "https://europepmc.org/articles/PMC12124214?pdf=render" in erratum.open_access_links
    assert erratum.pmcid == "PMC12124214" and erratum.full_text_xml_url is None
    assert study.abstract.splitlines()[0].startswith("Objective: This study investigated")
    assert "(at p < .001)" in study.abstract  # a '<' in the text is not taken for a tag
    assert [line.split(":")[0] for line in study.abstract.splitlines()] == [
        "Objective", "Design", "Methods", "Results", "Conclusions"]
    assert study.mesh_terms[:2] == ["Humans", "Neoplasms"]
    assert study.license == "cc by" and study.keywords[0] == "Cancer"


def test_europepmc_open_access_record_has_full_text_links():
    base = "http://example.test/rest"
    _, [article], _ = parse_europepmc_search(_read("europepmc_search_open_access.json"), base)
    assert article.is_open_access and article.pmcid == "PMC12311175"
    assert article.full_text_xml_url == f"{base}/PMC12311175/fullTextXML"
    assert article.open_access_links == [
        "https://europepmc.org/articles/PMC12311175",
        "https://europepmc.org/articles/PMC12311175?pdf=render",
        f"{base}/PMC12311175/fullTextXML",
    ]
    assert "transforming growth factor-β (TGF-β)" in article.abstract
    assert article.cited_by == 10
    data = article.as_dict()
    assert data["url"] == "https://europepmc.org/article/MED/40739089"


def test_europepmc_no_results():
    hit_count, articles, _ = parse_europepmc_search(_read("europepmc_search_no_results.json"))
    assert hit_count == 0 and articles == []


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'{"hitCount": 3}', b'{"hitCount": "x", "resultList": {"result": []}}',
     b'{"hitCount": 1, "resultList": {"result": ["oops"]}}', b'{"hitCount": 1, "resultList": {"result": [{}]}}',
     b'{"hitCount": 1, "resultList": {"result": [{"id": "1"}]', b"\xff\xfe\x00garbage"],
)
def test_malformed_europepmc_is_an_error(body):
    with pytest.raises(MalformedResponse) as info:
        parse_europepmc_search(body)
    assert str(info.value).startswith("Europe PMC returned a malformed response")


def test_europepmc_error_body():
    with pytest.raises(RemoteQueryError, match="Invalid query"):
        parse_europepmc_search(b'{"errCode": 400, "errMsg": "Invalid query"}')


def test_clean_abstract():
    assert clean_abstract("<h4>Background</h4>A <i>Rep</i> &amp; Cap.<h4>Results</h4>p < 0.05 and q > 1") == (
        "Background: A Rep & Cap.\nResults: p < 0.05 and q > 1"
    )
    assert clean_abstract(None) == ""


def test_book_records_and_records_without_pmid():
    """Edge cases of the efetch format (a small hand-made document, not a recording)."""
    xml = (
        b"<PubmedArticleSet><PubmedBookArticle><BookDocument><PMID Version='1'>20301295</PMID><Book>"
        b"<Publisher><PublisherName>University of Washington, Seattle</PublisherName></Publisher>"
        b"<BookTitle>GeneReviews</BookTitle><PubDate><Year>1993</Year></PubDate></Book>"
        b"<ArticleTitle>A chapter</ArticleTitle><Abstract><AbstractText Label='SUMMARY'>Text.</AbstractText>"
        b"</Abstract></BookDocument></PubmedBookArticle>"
        b"<PubmedArticle><MedlineCitation><PMID>n/a</PMID></MedlineCitation></PubmedArticle>"
        b"<DeleteCitation><PMID>1</PMID></DeleteCitation></PubmedArticleSet>"
    )
    [book] = parse_pubmed_xml(xml)
    assert (book.pmid, book.title, book.year, book.abstract) == ("20301295", "A chapter", 1993, "SUMMARY: Text.")
    assert book.journal == "University of Washington, Seattle"
