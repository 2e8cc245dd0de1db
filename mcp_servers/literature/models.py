"""Data types of the literature layer (plain pydantic, JSON-serialisable for the CLI, MCP and the agent)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PubMedArticle(BaseModel):
    """One PubMed record as parsed from E-utilities efetch XML."""

    pmid: str
    title: str = ""
    abstract: str = Field("", description="Abstract text; structured abstracts as 'LABEL: text' lines.")
    authors: list[str] = Field(default_factory=list, description="'Forename Lastname' or a collective name.")
    journal: str = ""
    year: int | None = None
    doi: str | None = None
    pmcid: str | None = None
    mesh_terms: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    publication_types: list[str] = Field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"

    def as_dict(self) -> dict[str, Any]:
        return {**self.model_dump(), "url": self.url}


class ESearchResult(BaseModel):
    """What esearch returned: the total hit count and the PMIDs of this page."""

    count: int = 0
    pmids: list[str] = Field(default_factory=list)
    query_translation: str | None = None
    warnings: list[str] = Field(default_factory=list)


class PubMedSearchResult(BaseModel):
    query: str
    count: int = Field(0, description="Total PubMed hits for the query.")
    articles: list[PubMedArticle] = Field(default_factory=list)
    query_translation: str | None = None
    warnings: list[str] = Field(default_factory=list)


class FullTextLink(BaseModel):
    url: str
    availability: str | None = None  # e.g. "Open access", "Free", "Subscription required"
    availability_code: str | None = None  # OA, F, S, ...
    style: str | None = None  # html, pdf, doi
    site: str | None = None  # Europe_PMC, DOI, ...

    @property
    def free(self) -> bool:
        return (self.availability_code or "").upper() in {"OA", "F"}


class EuropePMCArticle(BaseModel):
    """One Europe PMC search result (``resultType=core``)."""

    id: str
    source: str = Field("", description="Europe PMC source: MED (PubMed), PMC, PPR (preprint), AGR, ...")
    pmid: str | None = None
    pmcid: str | None = None
    doi: str | None = None
    title: str = ""
    authors: list[str] = Field(default_factory=list)
    journal: str = ""
    year: int | None = None
    abstract: str = ""
    is_open_access: bool = False
    in_pmc: bool = False
    license: str | None = None
    cited_by: int | None = None
    mesh_terms: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    full_text_links: list[FullTextLink] = Field(default_factory=list)
    full_text_xml_url: str | None = Field(
        None, description="Europe PMC JATS full text (open-access articles with a PMCID)."
    )

    @property
    def url(self) -> str:
        return f"https://europepmc.org/article/{self.source or 'MED'}/{self.id}"

    @property
    def open_access_links(self) -> list[str]:
        links = [link.url for link in self.full_text_links if link.free]
        if self.full_text_xml_url:
            links.append(self.full_text_xml_url)
        return links

    def as_dict(self) -> dict[str, Any]:
        return {**self.model_dump(), "url": self.url, "open_access_links": self.open_access_links}


class EuropePMCSearchResult(BaseModel):
    query: str
    hit_count: int = 0
    articles: list[EuropePMCArticle] = Field(default_factory=list)
    next_cursor: str | None = None


class PullReport(BaseModel):
    """What ``ingest_pubmed`` did."""

    query: str | None = None
    search_count: int | None = Field(None, description="Total PubMed hits for the query (not all are fetched).")
    requested: list[str] = Field(default_factory=list, description="PMIDs considered (search + given).")
    added: list[str] = Field(default_factory=list, description="PMIDs added to the library now.")
    skipped_existing: list[str] = Field(default_factory=list, description="PMIDs already in the library.")
    not_found: list[str] = Field(default_factory=list, description="PMIDs PubMed returned no record for.")
    without_abstract: list[str] = Field(default_factory=list, description="Added with the title as their only text.")
    full_text: list[str] = Field(default_factory=list, description="Added with their open-access full text (JATS).")
    chunks_written: int = 0
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f"added {len(self.added)}", f"already in library {len(self.skipped_existing)}"]
        if self.not_found:
            parts.append(f"not found {len(self.not_found)}")
        if self.without_abstract:
            parts.append(f"without abstract {len(self.without_abstract)}")
        if self.full_text:
            parts.append(f"with full text {len(self.full_text)}")
        if self.errors:
            parts.append(f"errors {len(self.errors)}")
        head = f"PubMed pull ({self.query!r}): " if self.query else "PubMed pull: "
        return head + ", ".join(parts) + f" ({self.chunks_written} chunks, {self.seconds:.1f}s)"
