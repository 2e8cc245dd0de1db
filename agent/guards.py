"""Deterministic guards: what the message certainly needs, whatever the model says.

- a protein/DNA sequence or FASTA in the message always reaches the sequence tools;
- a question about the literature (or the domain) always retrieves;
- tools that change the library are callable only when the user asked for it in their own words.

Everything here is pure and fast (regular expressions), so the guards cost nothing next to a model call.
"""

from __future__ import annotations

import re
from typing import Any, Literal

AA = "ACDEFGHIKLMNPQRSTVWYBXZUO"
_AA_SET = set(AA)
_DNA_SET = set("ACGTUN")

# Minimum lengths for a bare (non-FASTA) run of letters to count as a sequence: upper case 20, lower case 30
# (no English word is that long and made of amino-acid letters only).
MIN_UPPER = 20
MIN_LOWER = 30

_FASTA_RE = re.compile(r"(?m)^>[^\n]*\n(?:[ \t]*[A-Za-z*\-]+[ \t]*(?:\n|$))+")
_LETTERS_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z*]+(?![A-Za-z0-9])")
_MUT_RE = re.compile(r"(?<![A-Za-z0-9])([ACDEFGHIKLMNPQRSTVWY])([1-9]\d{0,4})([ACDEFGHIKLMNPQRSTVWY])(?![A-Za-z0-9])")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

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

WRITE_TOOLS = frozenset({"add_to_library"})
"""Tools that change stored data; callable only when the user's own message asks for it."""

SEQUENCE_TOOL_HINTS = ("annotate_rep", "properties", "protein_properties", "score_mutations", "mutational_scan",
                       "parse", "validate", "validate_sequence", "embed", "embed_sequence", "contacts",
                       "predict_contacts")


def _any(patterns: list[str], text: str) -> bool:
    return any(re.search(p, text, re.I) for p in patterns)


def detect_language(text: str) -> Literal["en", "zh"]:
    """``zh`` when Chinese characters make up a noticeable share of the letters, else ``en``."""
    cjk = len(_CJK_RE.findall(text))
    latin = len(re.findall(r"[A-Za-z]", _strip_sequences_only(text)))
    return "zh" if cjk and cjk * 3 >= max(1, latin) * 0.5 else "en"


def _strip_sequences_only(text: str) -> str:
    return extract_sequences(text)[1]


def _classify(seq: str) -> Literal["protein", "dna"] | None:
    s = seq.upper().rstrip("*")
    if not s:
        return None
    if sum(c in _DNA_SET for c in s) / len(s) >= 0.9:
        return "dna"
    if all(c in _AA_SET or c == "*" for c in s):
        return "protein"
    return None


def extract_sequences(text: str) -> tuple[list[dict[str, Any]], str]:
    """Find FASTA records and bare sequences; return them and the text with placeholders in their place."""
    found: list[dict[str, Any]] = []

    def fasta_sub(m: re.Match) -> str:
        block = m.group(0)
        header, _, body = block.partition("\n")
        seq = re.sub(r"[\s\-]", "", body)
        kind = _classify(seq)
        if kind is None or len(seq) < 5:
            return block
        ident = header[1:].strip().split()[0] if header[1:].strip() else f"seq{len(found) + 1}"
        found.append({"id": ident, "header": header[1:].strip(), "kind": kind, "sequence": seq.upper().rstrip("*"),
                      "source": "fasta"})
        return f"[sequence {ident}, {len(seq)} {'aa' if kind == 'protein' else 'nt'}]\n"

    rest = _FASTA_RE.sub(fasta_sub, text)

    # Bare sequences: runs of amino-acid letters; consecutive runs separated only by white space (wrapped
    # lines, 10-letter groups) join when each piece but the last is at least 10 letters long.
    runs = [m for m in _LETTERS_RE.finditer(rest)]
    groups: list[list[re.Match]] = []
    for m in runs:
        word = m.group(0)
        if not all(c in _AA_SET or c == "*" for c in word.upper()):
            groups.append([])
            continue
        if groups and groups[-1]:
            prev = groups[-1][-1]
            gap = rest[prev.end():m.start()]
            same_case = prev.group(0).isupper() == word.isupper()
            if (gap.strip() == "" and len(prev.group(0)) >= 10 and same_case
                    and ("\n" in gap or len(word) >= 10)):
                groups[-1].append(m)
                continue
        groups.append([m])
    out, last = [], 0
    for g in groups:
        if not g:
            continue
        # Drop short leading words ("in MPSK...") from the group.
        while len(g) > 1 and len(g[0].group(0)) < 10:
            g = g[1:]
        seq = "".join(x.group(0) for x in g)
        upper = seq.upper() == seq
        lower = seq.lower() == seq
        if not (upper or lower) or len(seq) < (MIN_UPPER if upper else MIN_LOWER):
            continue
        kind = _classify(seq)
        if kind is None:
            continue
        ident = f"seq{len(found) + 1}"
        found.append({"id": ident, "header": "", "kind": kind, "sequence": seq.upper().rstrip("*"), "source": "raw"})
        out.append(rest[last:g[0].start()])
        out.append(f"[sequence {ident}, {len(seq)} {'aa' if kind == 'protein' else 'nt'}]")
        last = g[-1].end()
    out.append(rest[last:])
    rest = "".join(out)
    return found, rest.strip()


def extract_mutations(text_without_sequences: str, sequence: str | None = None) -> list[str]:
    """Mutations like ``K25A`` (also ``K25A:G30D``), checked against the sequence when one is given."""
    muts = []
    for wt, pos, mt in _MUT_RE.findall(text_without_sequences):
        if wt == mt:
            continue
        m = f"{wt}{pos}{mt}"
        if m not in muts:
            muts.append(m)
    if sequence and muts:
        consistent = [m for m in muts if int(m[1:-1]) <= len(sequence) and sequence[int(m[1:-1]) - 1] == m[0]]
        if consistent:
            return consistent
    return muts


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
# Deterministic tool calls for a sequence


def _schema_props(tool: Any) -> dict[str, Any]:
    schema = getattr(tool, "args_schema", None)
    if schema is None:
        return {}
    if isinstance(schema, dict):
        return schema.get("properties", {}) or {}
    try:
        return schema.model_json_schema().get("properties", {}) or {}
    except Exception:  # noqa: BLE001
        return {}


def _required(tool: Any) -> list[str]:
    schema = getattr(tool, "args_schema", None)
    if isinstance(schema, dict):
        return list(schema.get("required", []) or [])
    try:
        return list(schema.model_json_schema().get("required", []) or [])
    except Exception:  # noqa: BLE001
        return []


_SEQ_ARG_NAMES = ("sequence", "seq", "protein", "fasta", "text", "input", "query", "data", "record", "sequences")
_MUT_ARG_NAMES = ("mutations", "mutation", "variants", "variant", "mutant", "mutants")


def _pick(props: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for n in names:
        if n in props:
            return n
    for n in props:
        if any(x in n.lower() for x in names):
            return n
    return None


def _is_array(prop: dict[str, Any]) -> bool:
    if prop.get("type") == "array":
        return True
    return any(isinstance(s, dict) and s.get("type") == "array" for s in prop.get("anyOf", []) or [])


def build_args(tool: Any, sequence: str, mutations: list[str] | None = None) -> dict[str, Any] | None:
    """Arguments for a sequence tool from its own schema; None if the schema does not fit."""
    props = _schema_props(tool)
    if not props:
        return {"sequence": sequence} if not mutations else {"sequence": sequence, "mutations": mutations}
    seq_name = _pick(props, _SEQ_ARG_NAMES)
    if seq_name is None:
        return None
    args: dict[str, Any] = {seq_name: [sequence] if _is_array(props[seq_name]) else sequence}
    if mutations is not None:
        mut_name = _pick(props, _MUT_ARG_NAMES)
        if mut_name is None:
            return None
        args[mut_name] = mutations if _is_array(props[mut_name]) else ", ".join(mutations)
    missing = [r for r in _required(tool) if r not in args]
    return None if missing else args


TOOL_ALIASES = {
    "annotate_rep": ("annotate_rep",),
    "properties": ("protein_properties", "properties"),
    "score_mutations": ("score_mutations",),
    "mutational_scan": ("mutational_scan",),
    "validate": ("validate_sequence", "parse_sequence", "validate", "parse"),
}


def find_tool(tools: dict[str, Any], role: str) -> str | None:
    """The name under which a tool of this role is available (servers name them slightly differently)."""
    for name in TOOL_ALIASES.get(role, (role,)):
        if name in tools:
            return name
    return None


def sequence_argument(record: dict[str, Any]) -> str:
    """The sequence as the tools take it: FASTA with its header when there was one, else the letters."""
    header = (record.get("header") or "").split(" | ")[0].strip()
    if header:
        return f">{header}\n{record['sequence']}"
    return record["sequence"]


def sequence_guard_calls(sequences: list[dict], mutations: list[str], tools: dict[str, Any]) -> list[dict]:
    """The tool calls a sequence in the message always gets: annotate_rep and properties, and score_mutations
    when a mutation is named; DNA is validated and its translations annotated."""
    calls: list[dict] = []
    proteins = [s for s in sequences if s["kind"] == "protein"]

    def add(role: str, seq: str, muts: list[str] | None = None, extra: dict | None = None) -> None:
        name = find_tool(tools, role)
        if name is None:
            return
        args = build_args(tools[name], seq, muts)
        if args is None:
            return
        props = _schema_props(tools[name])
        for k, v in (extra or {}).items():
            if k in props:
                args[k] = v
        calls.append({"name": name, "args": args})

    if not proteins:
        if sequences:
            dna = sequence_argument(sequences[0])
            add("validate", dna, extra={"translate_dna": True})
            add("annotate_rep", dna, extra={"translate_dna": True})
        return calls
    seq = sequence_argument(proteins[0])
    add("annotate_rep", seq)
    add("properties", seq)
    if mutations:
        add("score_mutations", seq, mutations)
    return calls


def literature_guard_calls(question_text: str, tools: dict[str, Any]) -> list[dict]:
    """A public literature search the user asked for by name (PubMed / Europe PMC)."""
    calls = []
    query = " ".join(keywords(gloss_translate(question_text) if _CJK_RE.search(question_text) else question_text))
    query = re.sub(r"\b(?:pubmed|europe ?pmc|search|find|papers?|articles?|online|ncbi)\b", " ", query, flags=re.I)
    query = re.sub(r"\s+", " ", query).strip()
    if not query:
        return calls
    for pattern, name in ((r"europe ?pmc", "search_europepmc"), (r"pubmed|ncbi|search (?:online|the web)", "search_pubmed")):
        if re.search(pattern, question_text, re.I) and name in tools:
            props = _schema_props(tools[name])
            arg = _pick(props, ("query", "term", "q", "text", "search")) if props else "query"
            if arg:
                calls.append({"name": name, "args": {arg: query}})
            break
    return calls


def sequence_tool_names(tools: dict[str, Any]) -> set[str]:
    return {n for n in tools if n in SEQUENCE_TOOL_HINTS or getattr(tools[n], "metadata", None)
            and (tools[n].metadata or {}).get("server") == "sequence"}


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
