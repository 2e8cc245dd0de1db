"""Open-access full text in JATS XML (Europe PMC ``/{PMCID}/fullTextXML``, PMC OA ``.nxml``) by section.

Parsed with lxml (``recover=True`` for slightly broken files). What comes out:

- metadata: PMID, PMCID, DOI, title, authors, year, journal, licence;
- sections in reading order, each ``{kind, section, text}``: the abstract(s) (``section`` "Abstract"), body
  paragraphs under their top-level heading ("Introduction", "Methods", "Results", "Discussion", ... and the
  subsection title after a colon), figure and table captions (``kind`` "caption", ``section`` "Figure 1"),
  table rows (``kind`` "table", cells joined with " | "), and the reference list (``kind`` "reference", one
  entry per paragraph) that the knowledge base stores apart from evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mcp_servers.literature.errors import MalformedResponse

SERVICE = "Europe PMC full text"
_SKIP_IN_P = {"fig", "table-wrap", "disp-formula", "supplementary-material", "table"}


@dataclass
class JatsArticle:
    pmid: str | None = None
    pmcid: str | None = None
    doi: str | None = None
    title: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    journal: str = ""
    license: str | None = None
    sections: list[dict] = field(default_factory=list)  # {"kind", "section", "text"}

    @property
    def has_body(self) -> bool:
        return any(s["kind"] == "body" and s["section"] != "Abstract" for s in self.sections)


def _local(tag) -> str:
    return tag.split("}", 1)[-1] if isinstance(tag, str) else ""


def _text(el) -> str:
    """The element's text, leaving out floating figures/tables/formulas nested in it."""
    if el is None:
        return ""
    parts: list[str] = []

    def walk(node):
        if node.text:
            parts.append(node.text)
        for child in node:
            if _local(child.tag) not in _SKIP_IN_P:
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return " ".join("".join(parts).split())


def _first(root, xpath: str):
    found = root.xpath(xpath)
    return found[0] if found else None


def _caption(node) -> str:
    label = _text(_first(node, "./*[local-name()='label']"))
    cap = _first(node, "./*[local-name()='caption']")
    body = " ".join(_text(c) for c in cap) if cap is not None and len(cap) else _text(cap)
    return " ".join(p for p in (label, body) if p).strip()


def _table_rows(node) -> list[str]:
    rows = []
    for tr in node.xpath(".//*[local-name()='tr']"):
        cells = [_text(c) for c in tr if _local(c.tag) in ("td", "th")]
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def _floats(container, section: str, out: list[dict]) -> None:
    for node in container.xpath(".//*[local-name()='fig' or local-name()='table-wrap']"):
        label = _text(_first(node, "./*[local-name()='label']")) or ("Table" if _local(node.tag) == "table-wrap" else "Figure")
        cap = _caption(node)
        if cap:
            out.append({"kind": "caption", "section": label, "text": cap})
        if _local(node.tag) == "table-wrap":
            rows = _table_rows(node)
            if rows:
                out.append({"kind": "table", "section": label, "text": "\n".join(rows)})


def _sec(sec, top: str | None, out: list[dict]) -> None:
    title = _text(_first(sec, "./*[local-name()='title']"))
    name = title if top is None else (f"{top}: {title}" if title else top)
    head = top or title or "Body"
    paras = [_text(p) for p in sec if _local(p.tag) == "p"]
    text = "\n\n".join(p for p in paras if p)
    if text:
        out.append({"kind": "body", "section": name or head, "text": text})
    for child in sec:
        if _local(child.tag) == "sec":
            _sec(child, head, out)


def parse_jats(body: bytes) -> JatsArticle:
    """A JATS article; raises MalformedResponse when the XML is not an article."""
    from lxml import etree

    if not body or not body.strip():
        raise MalformedResponse(SERVICE, "empty body")
    try:
        root = etree.fromstring(body, etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                                                      huge_tree=True))
    except etree.XMLSyntaxError as exc:
        raise MalformedResponse(SERVICE, f"invalid XML ({exc})") from exc
    if root is None:
        raise MalformedResponse(SERVICE, "invalid XML")
    art = root if _local(root.tag) == "article" else _first(root, ".//*[local-name()='article']")
    meta = None if art is None else _first(art, ".//*[local-name()='article-meta']")
    if meta is None:
        raise MalformedResponse(SERVICE, "no <article-meta>: not a JATS article")
    out = JatsArticle()
    for aid in meta.xpath("./*[local-name()='article-id']"):
        kind, val = aid.get("pub-id-type"), (aid.text or "").strip()
        if kind == "pmid":
            out.pmid = val
        elif kind in ("pmc", "pmcid"):
            out.pmcid = val if val.upper().startswith("PMC") else f"PMC{val}"
        elif kind == "doi":
            out.doi = val
    out.title = _text(_first(meta, ".//*[local-name()='title-group']/*[local-name()='article-title']"))
    for c in meta.xpath(".//*[local-name()='contrib'][@contrib-type='author']"):
        name = _first(c, "./*[local-name()='name']")
        if name is not None:
            given = _text(_first(name, "./*[local-name()='given-names']"))
            out.authors.append(" ".join(p for p in (given, _text(_first(name, "./*[local-name()='surname']"))) if p))
        else:
            collab = _text(_first(c, "./*[local-name()='collab']"))
            if collab:
                out.authors.append(collab)
    years = [int(y) for y in re.findall(r"\b(1[89]\d\d|20\d\d)\b", " ".join(
        _text(_first(d, "./*[local-name()='year']")) for d in meta.xpath("./*[local-name()='pub-date']")))]
    out.year = min(years) if years else None
    out.journal = _text(_first(art, ".//*[local-name()='journal-meta']//*[local-name()='journal-title']"))
    lic = _first(meta, ".//*[local-name()='license']")
    if lic is not None:
        href = lic.get("{http://www.w3.org/1999/xlink}href")
        out.license = href or _text(lic)[:300] or None
    for ab in meta.xpath("./*[local-name()='abstract']"):
        paras = [_text(p) for p in ab.xpath(".//*[local-name()='p']")] or [_text(ab)]
        text = "\n\n".join(p for p in paras if p)
        if text:
            out.sections.append({"kind": "body", "section": "Abstract", "text": text})
    body_el = _first(art, "./*[local-name()='body']")
    if body_el is not None:
        loose = [_text(p) for p in body_el if _local(p.tag) == "p"]
        if any(loose):
            out.sections.append({"kind": "body", "section": "Body", "text": "\n\n".join(p for p in loose if p)})
        for sec in body_el:
            if _local(sec.tag) == "sec":
                _sec(sec, None, out.sections)
        _floats(body_el, "Body", out.sections)
    back = _first(art, "./*[local-name()='back']")
    if back is not None:
        for sec in back.xpath("./*[local-name()='sec' or local-name()='ack']"):
            _sec(sec, None, out.sections)
        _floats(back, "Back", out.sections)
        refs = []
        for i, ref in enumerate(back.xpath(".//*[local-name()='ref-list']/*[local-name()='ref']"), 1):
            label = _text(_first(ref, "./*[local-name()='label']")) or str(i)
            cit = _first(ref, "./*[local-name()='mixed-citation' or local-name()='element-citation' "
                              "or local-name()='citation' or local-name()='nlm-citation']")
            text = re.sub(r"\s+([,.;:)])", r"\1", " ".join(t.strip() for t in cit.itertext() if t.strip())) \
                if cit is not None else ""
            if text:
                refs.append(f"{label.rstrip('.')}. {text}")
        if refs:
            out.sections.append({"kind": "reference", "section": "References", "text": "\n\n".join(refs)})
    return out
