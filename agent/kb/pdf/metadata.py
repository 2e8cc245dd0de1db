"""Title, authors, year, journal and DOI of a paper, from its first page, its text and the PDF metadata.

Title: the largest type on the upper part of page 1 (article-type labels like "Research Article" skipped);
the PDF's /Title wins only when it is not junk (a file name, "Microsoft Word - ...", a number) and agrees with
the page. DOI: page 1, then the PDF metadata, then the last page, then any page outside the reference list.
Year: the latest plausible year printed on page 1 near "Published", "©", "Copyright", "Accepted" (else the
latest on page 1, else the PDF's creation date).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from agent.kb.pdf.layout import Line, Page

DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>|]+)", re.I)
JUNK_TITLE_RE = re.compile(
    r"\.(pdf|docx?|rtf|tex|dvi|ps|indd|qxd|xml|html?)\b|^microsoft\s+(word|powerpoint)|^untitled|^doi\b|"
    r"^\s*[\d\s._\-:]+\s*\d*\.\.\d+|_proof\b|^\s*\d[\d\s._-]*$|^(title|document\d*|paper|article|manuscript)$", re.I)
LABEL_RE = re.compile(
    r"^(research(\s+article)?|original\s+(research\s+)?article|review(\s+article)?|open\s+access|article|"
    r"brief\s+report|short\s+communication|letter|commentary|editorial|methodology(\s+article)?|"
    r"case\s+report|perspective|mini[- ]?review|research\s+paper|full\s+paper|communication|software)"
    r"(\s*\|?\s*open\s+access)?$", re.I)
YEAR_RE = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_AFFIL_RE = re.compile(r"universit|department|institut|school|college|hospital|laborator|centre|center|"
                       r"correspond|e-?mail|@|received|accepted|published|abstract", re.I)


@dataclass
class PaperMeta:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    journal: str | None = None
    doi: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # field -> where it came from


def clean_doi(doi: str) -> str:
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi.strip(), flags=re.I)
    # PNAS supplement links: "doi:10.1073/pnas.2105253118/-/DCSupplemental" is the article's DOI plus a suffix
    doi = re.sub(r"/-/DC\w*$", "", doi.rstrip(".,;:)]}>'\""))
    if doi.count("(") < doi.count(")"):
        doi = doi.rstrip(")")
    return doi


def _tokens(text: str) -> set[str]:
    return {t for t in re.findall(r"[a-z0-9]+", text.lower()) if len(t) > 2}


def junk_title(title: str | None) -> bool:
    t = (title or "").strip()
    return not t or len(t.split()) < 3 or bool(JUNK_TITLE_RE.search(t)) or sum(c.isalpha() for c in t) < 0.5 * len(t)


def title_lines(page: Page) -> list[Line]:
    """The lines set in the largest type on the upper 60% of page 1 (consecutive, close together)."""
    cands = [ln for ln in page.lines if ln.top < 0.6 * page.height and sum(c.isalpha() for c in ln.text) >= 3
             and not LABEL_RE.match(ln.text.strip()) and not DOI_RE.search(ln.text)]
    if not cands:
        return []
    big = max(ln.size for ln in cands)
    sizes = sorted(ln.size for ln in page.lines)
    if big < 1.15 * sizes[len(sizes) // 2]:
        return []  # nothing set larger than the running text: no typeset title on this page
    chosen = [ln for ln in cands if abs(ln.size - big) <= max(0.6, 0.08 * big)]  # italic names: other font box
    chosen.sort(key=lambda ln: ln.top)
    runs = [[chosen[0]]]
    for ln in chosen[1:]:  # runs of large lines, split at big vertical jumps
        if ln.top - runs[-1][-1].bottom > 2.0 * big:
            runs.append([])
        runs[-1].append(ln)
    # the first run that reads like a title: a journal logo set as large ("viruses", MDPI) is one word
    return next((r for r in runs if len(" ".join(ln.text for ln in r).split()) >= 3), runs[0])


def _authors_from_page(page: Page, title: list[Line]) -> list[str]:
    if not title:
        return []
    last = max(ln.bottom for ln in title)
    below = sorted((ln for ln in page.lines if ln.top >= last - 1 and ln not in title), key=lambda ln: ln.top)
    names: list[str] = []
    for ln in below[:4]:
        text = ln.text.strip()
        if _AFFIL_RE.search(text) or re.match(r"^[\d∗*†‡§¶]", text) or len(text) > 300:
            break
        for part in re.split(r"[\d∗*†‡§¶#]+(?:\s*,\s*\d+)*\s*\*?|,|\band\b|&|;", text):
            part = re.sub(r"\s+", " ", part).strip(" .")
            part = re.sub(r"^([a-z]\s+)+|(\s+[a-z])+$", "", part)  # affiliation letters: "Bashor a", "b Gagne"
            words = part.split()
            if 2 <= len(words) <= 5 and all(w[0].isupper() for w in words if w[0].isalpha()):
                names.append(part)
        if names:
            break
    return names


def _year(text: str, meta: dict[str, str]) -> tuple[int | None, str]:
    now = time.gmtime().tm_year + 1
    near = [int(m.group(1)) for m in re.finditer(
        r"(?:published|©|\(c\)|copyright|accepted|received|online)[^\n]{0,60}?\b(19[5-9]\d|20\d\d)\b", text, re.I)]
    near = [y for y in near if y <= now]
    if near:
        return max(near), "page 1"
    years = [int(y) for y in YEAR_RE.findall(text) if int(y) <= now]
    if years:
        return max(years), "page 1"
    m = re.search(r"D:(\d{4})", meta.get("CreationDate", ""))
    if m and 1950 <= int(m.group(1)) <= now:
        return int(m.group(1)), "pdf metadata"
    return None, ""


def _journal(meta: dict[str, str], first_text: str) -> str | None:
    subj = (meta.get("Subject") or "").strip()
    m = re.match(r"^([A-Z][A-Za-z&,:'\- ]{5,120}?)(\s*[,;(]?\s*(19|20)\d\d\b|\s*[,;]?\s*doi|\s*$)", subj)
    if m and len(m.group(1).split()) >= 2 and not junk_title(m.group(1) + " x x") \
            and (m.group(2).strip() or m.group(1).strip(" ,;").lower() in first_text.lower()) \
            and not re.search(r"subjects?\s*:?\s*" + re.escape(m.group(1).strip(" ,;")), first_text, re.I):
        return m.group(1).strip(" ,;")
    m = re.search(r"^([A-Z][A-Za-z&'\- ]{5,80}?)\s*\(?(19|20)\d\d\)?[,;]?\s*\d+\s*[:(,]", first_text, re.M)
    if m and len(m.group(1).split()) >= 2:
        return m.group(1).strip()
    return None


def extract_metadata(pages: list[Page], meta: dict[str, str], body_text_by_page: dict[int, str]) -> PaperMeta:
    """Metadata of a paper; body_text_by_page is the page text outside the reference list (for the DOI)."""
    out = PaperMeta()
    if not pages:
        return out
    first = pages[0]
    first_text = "\n".join(ln.text for ln in first.lines)
    tl = title_lines(first)
    from agent.kb.pdf.clean import join_lines

    page_title = re.sub(r"\s+", " ", join_lines([ln.text for ln in tl], set())).strip() if tl else None
    meta_title = re.sub(r"\s+", " ", meta.get("Title") or "").strip()
    if not junk_title(meta_title) and (not page_title or len(_tokens(meta_title) & _tokens(page_title))
                                       >= 0.6 * max(1, len(_tokens(meta_title)))):
        out.title, out.sources["title"] = meta_title, "pdf metadata"
    elif page_title and not junk_title(page_title):
        out.title, out.sources["title"] = page_title, "page 1"
    elif not junk_title(meta_title):
        out.title, out.sources["title"] = meta_title, "pdf metadata"
    # DOI
    where = [("page 1", body_text_by_page.get(first.number, first_text))]
    where.append(("pdf metadata", " ".join(meta.get(k, "") for k in ("Subject", "Keywords", "Title", "doi"))))
    if len(pages) > 1:
        where.append(("last page", body_text_by_page.get(pages[-1].number, "")))
    where.extend((f"page {n}", t) for n, t in sorted(body_text_by_page.items()))
    for label, text in where:
        m = re.search(r"(?:doi(?:\.org)?[:/\s]\s*)(10\.\d{4,9}/[^\s\"<>|]+)", text, re.I) or DOI_RE.search(text)
        if m:
            out.doi, out.sources["doi"] = clean_doi(m.group(1)), label
            break
    out.year, ysrc = _year(first_text, meta)
    if ysrc:
        out.sources["year"] = ysrc
    out.authors = _authors_from_page(first, tl)
    if not out.authors and meta.get("Author"):
        auth = re.sub(r"\{?et al\.?\}?", "", meta["Author"]).strip(" ,;")
        out.authors = [a.strip() for a in re.split(r";|,(?=\s*[A-Z][a-z]+\s)|\band\b", auth) if a.strip()]
    out.journal = _journal(meta, first_text)
    return out
