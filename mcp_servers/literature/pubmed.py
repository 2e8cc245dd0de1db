"""PubMed through NCBI E-utilities: esearch (query -> PMIDs) and efetch (PMIDs -> records).

The XML is parsed with the standard library's ElementTree (expat: no external entities or DTDs are fetched).
Anything that is not the XML E-utilities documents raises ``MalformedResponse``; an ``<ERROR>`` element in
an otherwise valid answer raises ``RemoteQueryError``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Literal

import httpx

from agent.settings import Settings, get_settings
from mcp_servers.literature.errors import LiteratureInputError, MalformedResponse, RemoteQueryError
from mcp_servers.literature.http import RemoteClient, RemoteService
from mcp_servers.literature.models import ESearchResult, PubMedArticle, PubMedSearchResult

SERVICE = "PubMed"
EFETCH_BATCH = 200  # NCBI: up to 200 UIDs per GET request
MAX_SEARCH_RESULTS = 10000  # esearch retmax ceiling for PubMed

PubMedSort = Literal["relevance", "pub_date", "first_author", "journal"]
_SORTS = {"relevance": "relevance", "pub_date": "pub_date", "first_author": "Author", "journal": "JournalName"}

_PMID_RE = re.compile(r"^(?:pmid:?\s*)?(\d{1,9})$", re.I)
_PMID_PREFIX_RE = re.compile(r"pmid:?\s*", re.I)
_DATE_RE = re.compile(r"^(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?$")


# ---------------------------------------------------------------------------------------------------------
# input normalisation
# ---------------------------------------------------------------------------------------------------------
def normalize_pmid(value: str | int) -> str:
    """``"PMID: 123"``, ``"pmid:123"``, ``123`` -> ``"123"``; anything else is a ``LiteratureInputError``."""
    text = str(value).strip()
    m = _PMID_RE.match(text)
    if not m or int(m.group(1)) == 0:
        raise LiteratureInputError(f"not a PubMed ID: {text!r} (expected digits, e.g. 31452104)")
    return str(int(m.group(1)))


def normalize_pmids(values: Iterable[str | int]) -> list[str]:
    """Normalise and de-duplicate (order kept); also splits comma/space separated strings."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        for part in re.split(r"[\s,;]+", _PMID_PREFIX_RE.sub("", str(value)).strip()):
            if not part:
                continue
            pmid = normalize_pmid(part)
            if pmid not in seen:
                seen.add(pmid)
                out.append(pmid)
    return out


def normalize_date(value: str | int | None, *, name: str = "date") -> str | None:
    """``2019``, ``2019-05``, ``2019/05/01`` -> E-utilities form ``YYYY[/MM[/DD]]``."""
    if value is None or str(value).strip() == "":
        return None
    m = _DATE_RE.match(str(value).strip())
    if not m:
        raise LiteratureInputError(f"{name} must look like YYYY, YYYY/MM or YYYY/MM/DD, not {value!r}")
    year, month, day = m.groups()
    if month and not 1 <= int(month) <= 12 or day and not 1 <= int(day) <= 31:
        raise LiteratureInputError(f"{name} {value!r} is not a valid date")
    return "/".join(p if i == 0 else p.zfill(2) for i, p in enumerate(x for x in (year, month, day) if x))


# ---------------------------------------------------------------------------------------------------------
# XML parsing
# ---------------------------------------------------------------------------------------------------------
def _text(el: ET.Element | None) -> str:
    """All text inside an element (inline markup such as <i>, <sub>, MathML flattened), whitespace collapsed."""
    if el is None:
        return ""
    return " ".join("".join(el.itertext()).split())


def _xml_root(body: bytes, service: str = SERVICE) -> ET.Element:
    if not body or not body.strip():
        raise MalformedResponse(service, "empty body")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedResponse(service, f"invalid XML ({exc})") from exc


def parse_esearch(body: bytes) -> ESearchResult:
    """Parse an esearch XML answer."""
    root = _xml_root(body)
    if root.tag != "eSearchResult":
        raise MalformedResponse(SERVICE, f"expected <eSearchResult>, got <{root.tag}>")
    error = root.find("ERROR")
    if error is not None and _text(error):
        raise RemoteQueryError(SERVICE, _text(error))
    count_text = _text(root.find("Count"))
    if not count_text.isdigit():
        raise MalformedResponse(SERVICE, "esearch answer has no numeric <Count>")
    pmids = [_text(e) for e in root.findall("IdList/Id")]
    if any(not p.isdigit() for p in pmids):
        raise MalformedResponse(SERVICE, "esearch <IdList> holds a non-numeric id")
    warnings = []
    for el in root.findall("ErrorList/*") + root.findall("WarningList/*"):
        if _text(el):
            warnings.append(f"{el.tag}: {_text(el)}")
    return ESearchResult(
        count=int(count_text),
        pmids=pmids,
        query_translation=_text(root.find("QueryTranslation")) or None,
        warnings=warnings,
    )


def _texts(parent: ET.Element, path: str) -> list[str]:
    """The non-empty texts of every element at ``path`` under ``parent``."""
    return [t for t in (_text(el) for el in parent.findall(path)) if t]


def _year_of(article: ET.Element, citation: ET.Element) -> int | None:
    for path in (
        "Journal/JournalIssue/PubDate/Year",
        "ArticleDate/Year",
    ):
        text = _text(article.find(path))
        if text[:4].isdigit():
            return int(text[:4])
    medline_date = _text(article.find("Journal/JournalIssue/PubDate/MedlineDate"))
    m = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", medline_date)
    if m:
        return int(m.group(1))
    for path in ("DateCompleted/Year", "DateCreated/Year"):
        text = _text(citation.find(path))
        if text[:4].isdigit():
            return int(text[:4])
    return None


def _authors(parent: ET.Element | None) -> list[str]:
    out = []
    if parent is None:
        return out
    for author in parent.findall("AuthorList/Author"):
        collective = _text(author.find("CollectiveName"))
        if collective:
            out.append(collective)
            continue
        last = _text(author.find("LastName"))
        first = _text(author.find("ForeName")) or _text(author.find("Initials"))
        name = " ".join(p for p in (first, last) if p)
        if name:
            out.append(name)
    return out


def _abstract(parent: ET.Element | None) -> str:
    """Abstract text; each labelled section of a structured abstract becomes a 'LABEL: text' line."""
    if parent is None:
        return ""
    parts = []
    for section in parent.findall("Abstract/AbstractText"):
        text = _text(section)
        if not text:
            continue
        label = (section.get("Label") or "").strip()
        parts.append(f"{label}: {text}" if label and label.upper() != "UNLABELLED" else text)
    return "\n".join(parts)


def _parse_article(node: ET.Element, citation: ET.Element, pmid: str) -> PubMedArticle:
    article = citation.find("Article")
    if article is None:
        article = ET.Element("Article")
    doi = None
    for eloc in article.findall("ELocationID"):
        if eloc.get("EIdType") == "doi" and _text(eloc):
            doi = _text(eloc)
            break
    pmcid = None
    for aid in node.findall("PubmedData/ArticleIdList/ArticleId"):
        kind = aid.get("IdType")
        if kind == "doi" and not doi and _text(aid):
            doi = _text(aid)
        elif kind == "pmc" and _text(aid):
            pmcid = _text(aid)
    journal = _text(article.find("Journal/Title")) or _text(article.find("Journal/ISOAbbreviation"))
    journal = journal or _text(citation.find("MedlineJournalInfo/MedlineTA"))
    return PubMedArticle(
        pmid=pmid,
        title=_text(article.find("ArticleTitle")) or _text(article.find("VernacularTitle")),
        abstract=_abstract(article),
        authors=_authors(article),
        journal=journal,
        year=_year_of(article, citation),
        doi=doi,
        pmcid=pmcid,
        mesh_terms=_texts(citation, "MeshHeadingList/MeshHeading/DescriptorName"),
        keywords=_texts(citation, "KeywordList/Keyword"),
        publication_types=_texts(article, "PublicationTypeList/PublicationType"),
    )


def _parse_book(doc: ET.Element, pmid: str) -> PubMedArticle:
    book = doc.find("Book")
    year_text = _text(book.find("PubDate/Year")) if book is not None else ""
    doi = None
    for aid in doc.findall("ArticleIdList/ArticleId"):
        if aid.get("IdType") == "doi" and _text(aid):
            doi = _text(aid)
    return PubMedArticle(
        pmid=pmid,
        title=_text(doc.find("ArticleTitle")) or (_text(book.find("BookTitle")) if book is not None else ""),
        abstract=_abstract(doc),
        authors=_authors(doc) or _authors(book),
        journal=_text(book.find("Publisher/PublisherName")) if book is not None else "",
        year=int(year_text[:4]) if year_text[:4].isdigit() else None,
        doi=doi,
        keywords=_texts(doc, "KeywordList/Keyword"),
        publication_types=_texts(doc, "PublicationType"),
    )


def parse_pubmed_xml(body: bytes) -> list[PubMedArticle]:
    """Parse an efetch ``db=pubmed retmode=xml`` answer (a ``<PubmedArticleSet>``)."""
    root = _xml_root(body)
    if root.tag == "eFetchResult":
        error = _text(root.find("ERROR"))
        raise RemoteQueryError(SERVICE, error or "efetch returned an empty eFetchResult")
    if root.tag != "PubmedArticleSet":
        raise MalformedResponse(SERVICE, f"expected <PubmedArticleSet>, got <{root.tag}>")
    articles = []
    for node in root:
        if node.tag not in ("PubmedArticle", "PubmedBookArticle"):
            continue
        book = node.tag == "PubmedBookArticle"
        container = node.find("BookDocument" if book else "MedlineCitation")
        pmid = _text(container.find("PMID")) if container is not None else ""
        if not pmid.isdigit():  # a record without a usable PMID cannot be cited: skip it
            continue
        articles.append(_parse_book(container, pmid) if book else _parse_article(node, container, pmid))
    return articles


# ---------------------------------------------------------------------------------------------------------
# client
# ---------------------------------------------------------------------------------------------------------
class PubMedClient(RemoteClient):
    """E-utilities client. Honours NCBI's rate limit and sends ``tool``, ``email`` and ``api_key``."""

    def __init__(self, settings: Settings | None = None, *, transport: httpx.BaseTransport | None = None):
        self.settings = settings or get_settings()
        lit = self.settings.literature
        api_key = lit.ncbi_api_key.get_secret_value() if lit.ncbi_api_key else None
        rate = lit.ncbi_requests_per_s or (10.0 if api_key else 3.0)
        ident = {"tool": "bioagent"}
        if lit.ncbi_email:
            ident["email"] = lit.ncbi_email
        if api_key:
            ident["api_key"] = api_key
        self.http = RemoteService(
            SERVICE, lit.eutils_url, self.settings, rate=rate, cache_namespace="pubmed",
            extra_params=ident, transport=transport,
        )

    def esearch(
        self,
        query: str,
        max_results: int | None = None,
        *,
        mindate: str | int | None = None,
        maxdate: str | int | None = None,
        sort: PubMedSort = "relevance",
        start: int = 0,
    ) -> ESearchResult:
        """PMIDs matching ``query`` (PubMed syntax), newest-first or by relevance, optionally within dates."""
        query = (query or "").strip()
        if not query:
            raise LiteratureInputError("the PubMed query is empty")
        retmax = self.settings.literature.max_results if max_results is None else int(max_results)
        if not 0 <= retmax <= MAX_SEARCH_RESULTS:
            raise LiteratureInputError(f"max_results must be between 0 and {MAX_SEARCH_RESULTS}")
        if sort not in _SORTS:
            raise LiteratureInputError(f"sort must be one of {', '.join(_SORTS)}")
        mindate = normalize_date(mindate, name="mindate")
        maxdate = normalize_date(maxdate, name="maxdate")
        params: dict[str, str | int] = {
            "db": "pubmed", "term": query, "retmax": retmax, "retstart": start, "retmode": "xml",
            "sort": _SORTS[sort],
        }
        if mindate or maxdate:  # E-utilities wants both ends of a range
            params.update(datetype="pdat", mindate=mindate or "1800", maxdate=maxdate or "3000")
        return self.http.request("esearch.fcgi", params, parse=parse_esearch)

    def efetch(self, pmids: Sequence[str | int]) -> list[PubMedArticle]:
        """Full records for PMIDs (order of the input kept; PMIDs PubMed does not know are left out)."""
        ids = normalize_pmids(pmids)
        found: dict[str, PubMedArticle] = {}
        for i in range(0, len(ids), EFETCH_BATCH):
            batch = ids[i : i + EFETCH_BATCH]
            params = {"db": "pubmed", "id": ",".join(batch), "retmode": "xml", "rettype": "abstract"}
            for article in self.http.request("efetch.fcgi", params, parse=parse_pubmed_xml):
                found[article.pmid] = article
        return [found[p] for p in ids if p in found]

    def search(
        self,
        query: str,
        max_results: int | None = None,
        *,
        mindate: str | int | None = None,
        maxdate: str | int | None = None,
        sort: PubMedSort = "relevance",
    ) -> PubMedSearchResult:
        """esearch + efetch: the records (title, abstract, authors, ...) for the top hits of a query."""
        hits = self.esearch(query, max_results, mindate=mindate, maxdate=maxdate, sort=sort)
        articles = self.efetch(hits.pmids) if hits.pmids else []
        return PubMedSearchResult(
            query=query, count=hits.count, articles=articles,
            query_translation=hits.query_translation, warnings=hits.warnings,
        )
