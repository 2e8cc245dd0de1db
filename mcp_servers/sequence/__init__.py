"""Sequence analysis for bioagent: parsing/validation, ProtParam properties, ESM-2 mutation effects, deep
mutational scans, embeddings, contact maps and CRESS Rep motif annotation.

The core is plain Python (no MCP inside); `service` is the facade that the MCP server (`server`), the CLI (`cli`),
the agent and the UI call. See docs/sequence.md.
"""
