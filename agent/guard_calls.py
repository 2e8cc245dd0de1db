"""The tool calls the guards impose: a sequence in the message always reaches the sequence tools (arguments
built from each tool's own schema), and a public literature search asked for by name reaches PubMed/Europe PMC."""

from __future__ import annotations

import re
from typing import Any

from agent.query_heuristics import gloss_translate, keywords
from agent.sequence_detect import CJK_RE

WRITE_TOOLS = frozenset({"add_to_library"})
"""Tools that change stored data; callable only when the user's own message asks for it."""

SEQUENCE_TOOL_HINTS = ("annotate_rep", "properties", "protein_properties", "score_mutations", "mutational_scan",
                       "parse", "validate", "validate_sequence", "embed", "embed_sequence", "contacts",
                       "predict_contacts")


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
    query = " ".join(keywords(gloss_translate(question_text) if CJK_RE.search(question_text) else question_text))
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


