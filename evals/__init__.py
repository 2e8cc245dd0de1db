"""Evaluation harness: retrieval, answers, citations and tool use."""
