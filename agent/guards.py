"""Deterministic guards (one import for callers): sequence detection, query heuristics and the tool calls they
impose live in ``agent.sequence_detect``, ``agent.query_heuristics`` and ``agent.guard_calls``."""

from __future__ import annotations

from agent.guard_calls import (  # noqa: F401
    SEQUENCE_TOOL_HINTS,
    TOOL_ALIASES,
    WRITE_TOOLS,
    _schema_props,
    build_args,
    find_tool,
    literature_guard_calls,
    sequence_argument,
    sequence_guard_calls,
    sequence_tool_names,
)
from agent.query_heuristics import (  # noqa: F401
    DOMAIN_TERMS,
    GLOSSARY_ZH_EN,
    LITERATURE_TERMS,
    STOPWORDS,
    combine_routes,
    gloss_translate,
    guarded_route,
    is_literature_question,
    is_smalltalk,
    keywords,
    question_terms,
    search_text,
    wants_public_search,
    write_intent,
)
from agent.sequence_detect import (  # noqa: F401
    AA,
    MIN_LOWER,
    MIN_UPPER,
    detect_language,
    extract_mutations,
    extract_sequences,
)
