"""Europe PMC REST search (``resultType=core``, JSON): metadata, abstracts and open-access full-text links."""

from __future__ import annotations

import html
import json
import re
from typing import Any, Literal

import httpx

from agent.settings import Settings, get_settings
from mcp_servers.literature.errors import (
    LiteratureInputError,
    MalformedResponse,
    RemoteHTTPError,
    RemoteQueryError,
)
from mcp_servers.literature.http import RemoteClient, RemoteService
from mcp_servers.literature.models import EuropePMCArticle, EuropePMCSearchResult, FullTextLink

SERVICE = "Europe PMC"
MAX_PAGE = 1000  # Europe PMC's largest pageSize

EuropePMCSort = Literal["relevance", "date", "cited"]
_SORTS = {"relevance": None, "date": "P_PDATE_D desc", "cited": "CITED desc"}

_HEADING_RE = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.I | re.S)
# Only real tags (a letter right after "<"), so "p < .001" in an abstract survives.
_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


def clean_abstract(raw: str | None) -> str:
    """Europe PMC abstracts carry HTML: headings become 'Label: ' line starts, other tags are dropped."""
    if not raw:
        return ""
    text = _HEADING_RE.sub(lambda m: "\n" + _TAG_RE.sub("", m.group(1)).strip() + ": ", raw)
    text = html.unescape(_TAG_RE.sub("", text))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def _int(value: Any) -> int | None:
    try:
        return int(str(value)[:4]) if value not in (None, "") else None
    except ValueError:
        return None


def _list(obj: Any, *path: str) -> list:
    """obj[path0][path1]... as a list ([] when missing or of the wrong type)."""
    for key in path:
        if not isinstance(obj, dict):
            return []
        obj = obj.get(key)
    return obj if isinstance(obj, list) else []


def _parse_result(item: dict[str, Any], base_url: str) -> EuropePMCArticle:
    if not isinstance(item, dict):
        raise MalformedResponse(SERVICE, "a search result is not a JSON object")
    ident = str(item.get("id") or item.get("pmid") or item.get("pmcid") or "").strip()
    if not ident:
        raise MalformedResponse(SERVICE, "a search result has no id")
    authors = [
        str(a.get("fullName") or " ".join(p for p in (a.get("firstName"), a.get("lastName")) if p)).strip()
        for a in _list(item, "authorList", "author")
        if isinstance(a, dict)
    ]
    authors = [a for a in authors if a]
    if not authors and item.get("authorString"):
        authors = [a.strip() for a in str(item["authorString"]).rstrip(".").split(",") if a.strip()]
    journal_info = item.get("journalInfo") if isinstance(item.get("journalInfo"), dict) else {}
    journal = journal_info.get("journal") if isinstance(journal_info.get("journal"), dict) else {}
    links = []
    for link in _list(item, "fullTextUrlList", "fullTextUrl"):
        if isinstance(link, dict) and link.get("url"):
            links.append(
                FullTextLink(
                    url=str(link["url"]),
                    availability=link.get("availability"),
                    availability_code=link.get("availabilityCode"),
                    style=link.get("documentStyle"),
                    site=link.get("site"),
                )
            )
    pmcid = item.get("pmcid") or None
    is_oa = str(item.get("isOpenAccess", "N")).upper() == "Y"
    in_epmc = str(item.get("inEPMC", "N")).upper() == "Y"
    mesh = [
        str(m["descriptorName"]) for m in _list(item, "meshHeadingList", "meshHeading")
        if isinstance(m, dict) and m.get("descriptorName")
    ]
    cited = item.get("citedByCount")
    journal_title = str(journal.get("title") or item.get("journalTitle") or "")
    if not journal_title and isinstance(item.get("bookOrReportDetails"), dict):
        journal_title = str(item["bookOrReportDetails"].get("publisher") or "")
    return EuropePMCArticle(
        id=ident,
        source=str(item.get("source") or ""),
        pmid=str(item["pmid"]) if item.get("pmid") else None,
        pmcid=str(pmcid) if pmcid else None,
        doi=str(item["doi"]) if item.get("doi") else None,
        title=" ".join(html.unescape(_TAG_RE.sub("", str(item.get("title") or ""))).split()),
        authors=authors,
        journal=journal_title,
        year=_int(item.get("pubYear")) or _int(journal_info.get("yearOfPublication")),
        abstract=clean_abstract(item.get("abstractText")),
        is_open_access=is_oa,
        in_pmc=str(item.get("inPMC", "N")).upper() == "Y",
        license=item.get("license") or None,
        cited_by=cited if isinstance(cited, int) else None,
        mesh_terms=mesh,
        keywords=[str(k) for k in _list(item, "keywordList", "keyword") if k],
        full_text_links=links,
        full_text_xml_url=f"{base_url}/{pmcid}/fullTextXML" if pmcid and is_oa and in_epmc else None,
    )


def parse_europepmc_search(body: bytes, base_url: str = "https://www.ebi.ac.uk/europepmc/webservices/rest"):
    """Parse a ``/search?format=json`` answer into (hit_count, articles, next_cursor)."""
    if not body or not body.strip():
        raise MalformedResponse(SERVICE, "empty body")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedResponse(SERVICE, f"invalid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MalformedResponse(SERVICE, "expected a JSON object")
    if "errCode" in data or "errMsg" in data:
        raise RemoteQueryError(SERVICE, str(data.get("errMsg") or data.get("errCode")))
    hit_count = data.get("hitCount")
    results = data.get("resultList", {}).get("result") if isinstance(data.get("resultList"), dict) else None
    if not isinstance(hit_count, int) or not isinstance(results, list):
        raise MalformedResponse(SERVICE, "missing hitCount or resultList.result")
    articles = [_parse_result(item, base_url.rstrip("/")) for item in results]
    return hit_count, articles, data.get("nextCursorMark")


class EuropePMCClient(RemoteClient):
    def __init__(self, settings: Settings | None = None, *, transport: httpx.BaseTransport | None = None):
        self.settings = settings or get_settings()
        lit = self.settings.literature
        extra = {"email": lit.ncbi_email} if lit.ncbi_email else {}
        self.base_url = lit.europepmc_url.rstrip("/")
        self.http = RemoteService(
            SERVICE, self.base_url, self.settings, rate=10.0, cache_namespace="europepmc",
            extra_params=extra, transport=transport,
        )

    def search(
        self,
        query: str,
        max_results: int | None = None,
        *,
        open_access_only: bool = False,
        year_min: int | None = None,
        year_max: int | None = None,
        sort: EuropePMCSort = "relevance",
        cursor: str = "*",
    ) -> EuropePMCSearchResult:
        """Search Europe PMC (Europe PMC query syntax, e.g. ``circovirus AND "rolling circle"``)."""
        query = (query or "").strip()
        if not query:
            raise LiteratureInputError("the Europe PMC query is empty")
        size = self.settings.literature.max_results if max_results is None else int(max_results)
        if not 1 <= size <= MAX_PAGE:
            raise LiteratureInputError(f"max_results must be between 1 and {MAX_PAGE}")
        if sort not in _SORTS:
            raise LiteratureInputError(f"sort must be one of {', '.join(_SORTS)}")
        full = f"({query})" if (open_access_only or year_min or year_max) else query
        if open_access_only:
            full += " AND OPEN_ACCESS:y"
        if year_min or year_max:
            full += f" AND PUB_YEAR:[{int(year_min or 1800)} TO {int(year_max or 3000)}]"
        params = {
            "query": full, "resultType": "core", "format": "json", "pageSize": size, "cursorMark": cursor,
            "sort": _SORTS[sort],
        }
        hit_count, articles, next_cursor = self.http.request(
            "search", params, parse=lambda body: parse_europepmc_search(body, self.base_url)
        )
        return EuropePMCSearchResult(query=query, hit_count=hit_count, articles=articles, next_cursor=next_cursor)

    def full_text_xml(self, pmcid: str) -> bytes | None:
        """The open-access JATS full text of a PMC article (``/{PMCID}/fullTextXML``); None when Europe PMC has
        none for it (HTTP 404). Cached like every other answer."""
        pmcid = (pmcid or "").strip().upper()
        if not re.fullmatch(r"PMC\d+", pmcid):
            raise LiteratureInputError(f"not a PMCID: {pmcid!r} (expected PMC followed by digits)")
        try:
            return self.http.request(f"{pmcid}/fullTextXML", {}, parse=_xml_body)
        except RemoteHTTPError as exc:
            if exc.status == 404:
                return None
            raise


def _xml_body(body: bytes) -> bytes:
    if not body.lstrip().startswith(b"<"):
        raise MalformedResponse(SERVICE, "the full text is not XML")
    return body
