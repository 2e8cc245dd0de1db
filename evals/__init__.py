"""Evaluation harness: retrieval, answers, citations, tool use and sequence annotation (docs/evals.md).

- ``datasets``: JSONL loaders (PubMedQA, generic QA, sequence tasks) with file/line/field errors;
- ``metrics``: ranking and classification metrics; ``grounding``: groundedness (lexical or LLM judge);
- ``retrieval``, ``answers``, ``tools``, ``sequence``, ``perf``: the suites' scoring;
- ``configs``: named configurations (RunOverrides + settings overrides); ``agent_runs``: the agent over items;
- ``harness``: one run of a suite under several configurations; ``report``: table, JSON, Markdown, plots;
- ``cli``: ``bioagent eval retrieval|answers|tools|sequence|compare``.
"""
