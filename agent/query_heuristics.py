"""Query heuristics: what a message certainly needs, whatever the model says.

- a question about the literature (or the domain) always retrieves;
- tools that change the library are callable only when the user asked for it in their own words;
- Chinese keywords are glossed into English, so deterministic queries still work.

Everything here is pure and fast (regular expressions), so it costs nothing next to a model call.
"""

from __future__ import annotations

import re

from agent.sequence_detect import CJK_RE

LITERATURE_TERMS = [
    r"\bliterature\b", r"\bpapers?\b", r"\bstud(?:y|ies)\b", r"\bpublish", r"\barticles?\b", r"\breviews?\b",
    r"\bevidence\b", r"\baccording to\b", r"\bcit(?:e|ation)", r"\breferences?\b", r"\bpmid\b", r"\bdoi\b",
    r"\bpubmed\b", r"\beurope ?pmc\b", r"\breported\b", r"\bwhat is known\b", r"\bin the library\b",
    "文献", "论文", "研究", "报道", "证据", "综述", "引用",
]
DOMAIN_TERMS = [
    r"\bvir(?:us|uses|al|ion)\b", r"\bproteins?\b", r"\brep\b", r"\breplicat", r"\bcress", r"\bcircovir",
    r"\bgeminivir", r"\bnanovir", r"\bgenomovir", r"\bsmacovir", r"\bredondovir", r"\bcyclovir", r"\bpcv\d?\b",
    r"\bdna\b", r"\brna\b", r"\bgenom", r"\bmotifs?\b", r"\bhelicase", r"\bwalker\b", r"\bendonuclease",
    r"\bhuh\b", r"\bsf3\b", r"\bcapsid", r"\besm", r"\bmutation", r"\bmutant", r"\bresidues?\b", r"\bamino acid",
    r"\bhost", r"\binfect", r"\bpathogen", r"\bsequenc", r"\bphylogen", r"\bstrain", r"\bisolate",
    "病毒", "蛋白", "复制", "突变", "序列", "基因", "宿主", "感染", "圆环", "双生", "螺旋酶", "核酸", "氨基酸",
]
PUBLIC_SEARCH_TERMS = [r"\bpubmed\b", r"\beurope ?pmc\b", r"\bsearch (?:online|the web|ncbi)\b", "检索pubmed", "在线检索"]
# The user's own request to change the library (never inferred from retrieved text).
WRITE_INTENT = [
    r"\badd\b.{0,60}\b(?:to|into) (?:my |the )?library\b", r"\bsave\b.{0,60}\b(?:to|into|in) (?:my |the )?library\b",
    r"\bimport\b.{0,60}\b(?:to|into) (?:my |the )?library\b", r"\bpull\b.{0,60}\binto (?:my |the )?library\b",
    r"\badd_to_library\b", "加入.{0,20}(?:文献)?库", "添加到.{0,20}(?:文献)?库", "保存到.{0,20}(?:文献)?库", "导入.{0,20}(?:文献)?库",
]
GREETING_RE = re.compile(
    r"^\s*(?:hi|hello|hey|thanks|thank you|ok|okay|good (?:morning|evening)|你好|谢谢|您好)[\s!.,。！]*$", re.I
)


def _any(patterns: list[str], text: str) -> bool:
    return any(re.search(p, text, re.I) for p in patterns)


_PLACEHOLDER_RE = re.compile(r"\[sequence [^\]]*\]")


def search_text(question_text: str, sequences: list[dict], mutations: list[str]) -> str:
    """The question for retrieval: no sequence placeholders; the FASTA headers' words (protein and organism
    names, not accessions) added; 'mutation' added when a mutation is named."""
    text = _PLACEHOLDER_RE.sub(" ", question_text)
    extra: list[str] = []
    for s in sequences:
        header = (s.get("header") or "").split(" | ")[0]
        words = [w for w in keywords(header) if not re.search(r"\d", w) and w.lower() not in text.lower()]
        extra += words[:8]
    if mutations and "mutation" not in text.lower():
        extra.append("mutation")
    return re.sub(r"\s+", " ", f"{text} {' '.join(dict.fromkeys(extra))}").strip()


def is_literature_question(text: str) -> bool:
    return _any(LITERATURE_TERMS, text) or _any(DOMAIN_TERMS, text)


def wants_public_search(text: str) -> bool:
    return _any(PUBLIC_SEARCH_TERMS, text)


def write_intent(user_text: str) -> bool:
    """Did the user (not a document) ask to change the library?"""
    return _any(WRITE_INTENT, user_text)


def is_smalltalk(text: str) -> bool:
    return bool(GREETING_RE.match(text))


def guarded_route(question_text: str, sequences: list[dict], *, retrieval_enabled: bool = True,
                  tools_available: bool = True) -> tuple[str, str, bool, bool]:
    """The route the guards impose: (default route, reason, retrieval forced, tools forced)."""
    need_tools = bool(sequences) and tools_available
    need_retrieval = retrieval_enabled and (is_literature_question(question_text) or bool(sequences))
    if wants_public_search(question_text) and tools_available:
        need_tools = True
    reasons = []
    if sequences:
        reasons.append(f"{len(sequences)} sequence(s) in the message -> sequence tools")
    if need_retrieval:
        reasons.append("literature/domain question -> retrieval")
    if need_tools and not sequences:
        reasons.append("public literature search asked -> literature tools")
    if need_tools and need_retrieval:
        route = "both"
    elif need_tools:
        route = "tools"
    elif need_retrieval:
        route = "retrieve"
    elif is_smalltalk(question_text) or not retrieval_enabled:
        route = "direct"
    else:
        # Nothing certain: a research assistant looks things up unless the model says otherwise.
        route = "retrieve" if retrieval_enabled else "direct"
    return route, "; ".join(reasons) or "no guard fired", need_retrieval, need_tools


def combine_routes(guarded: str, llm: str | None, need_retrieval: bool, need_tools: bool,
                   *, retrieval_enabled: bool, tools_available: bool) -> str:
    """The model may add steps to what the guards force, never remove them."""
    if llm is None:
        return guarded
    retrieve = need_retrieval or llm in ("retrieve", "both")
    tools = need_tools or llm in ("tools", "both")
    retrieve = retrieve and retrieval_enabled
    tools = tools and tools_available
    if retrieve and tools:
        return "both"
    if tools:
        return "tools"
    if retrieve:
        return "retrieve"
    return "direct"


# ---------------------------------------------------------------------------------------------------------
# Chinese -> English: a small glossary so the deterministic fallback still gives English keyword queries.

GLOSSARY_ZH_EN = {
    "圆环病毒": "circovirus", "猪圆环病毒": "porcine circovirus PCV2", "双生病毒": "geminivirus",
    "矮缩病毒": "nanovirus", "病毒": "virus", "蛋白质": "protein", "蛋白": "protein", "复制酶": "replicase Rep",
    "复制起始蛋白": "replication initiator protein Rep", "复制": "replication", "滚环复制": "rolling-circle replication",
    "滚环": "rolling-circle", "解旋酶": "helicase", "螺旋酶": "helicase", "核酸内切酶": "endonuclease",
    "基序": "motif", "结构域": "domain", "突变": "mutation", "突变体": "mutant", "序列": "sequence",
    "基因组": "genome", "基因": "gene", "衣壳": "capsid", "宿主": "host", "感染": "infection", "进化": "evolution",
    "分类": "taxonomy", "单链": "single-stranded", "环状": "circular", "功能": "function", "作用": "role",
    "结合": "binding", "起始": "initiation", "茎环": "stem-loop", "九核苷酸": "nonanucleotide", "植物": "plant",
    "猪": "pig porcine", "鸟": "bird avian", "人类": "human", "文献": "", "论文": "", "研究": "",
}
_GLOSS_KEYS = sorted(GLOSSARY_ZH_EN, key=len, reverse=True)


def gloss_translate(text: str) -> str:
    """Replace known Chinese terms with English ones; keep Latin words (Rep, PCV2, ESM-2) as they are."""
    out = text
    for k in _GLOSS_KEYS:
        if k in out:
            out = out.replace(k, f" {GLOSSARY_ZH_EN[k]} ")
    latin = re.findall(r"[A-Za-z][A-Za-z0-9\-]*", out)
    return re.sub(r"\s+", " ", " ".join(latin)).strip()


STOPWORDS = set(
    "a an the of in on for to and or is are was were be been what which who whom how why when where does do did "
    "can could should would will about with by from as at that this these those it its into than then there their "
    "please tell me explain describe give list show us i you we they my our your any some known".split()
)


def keywords(text: str) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9\-]+", text)
    return [w for w in words if w.lower() not in STOPWORDS and len(w) > 1]



def question_terms(text: str) -> list[str]:
    """The question's keywords, with English glosses of Chinese terms."""
    terms = keywords(text)
    if CJK_RE.search(text):
        terms += keywords(gloss_translate(text))
    return terms


def prefixes(text: str) -> set[str]:
    """The 5-letter prefixes of a text's words: how a key term is matched ("motifs" finds "motif")."""
    return {w.lower()[:5] for w in re.findall(r"[A-Za-z][A-Za-z0-9\-]+", text)}


def key_terms(question: str) -> set[str]:
    """The question's key terms as 5-letter prefixes (terms of 3 letters or more; Chinese glossed)."""
    return {t.lower()[:5] for t in question_terms(question) if len(t) > 2}
