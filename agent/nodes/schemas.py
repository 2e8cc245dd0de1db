"""Structured outputs the model is asked for (as a forced tool call or JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RouteDecision(BaseModel):
    """Which route the question needs."""

    route: Literal["direct", "retrieve", "tools", "both"] = Field(..., description="direct, retrieve, tools or both")
    reason: str = Field("", description="One short sentence.")


class SearchQueries(BaseModel):
    """English search queries for the literature library."""

    queries: list[str] = Field(..., min_length=1, max_length=5, description="1 to 3 short English queries.")


class PassageGrades(BaseModel):
    """Which passages are relevant to the question."""

    relevant: list[str] = Field(default_factory=list, description="Ids of relevant passages, e.g. ['P1', 'P3'].")
    sufficient: bool = Field(..., description="Do the relevant passages answer the question?")
    missing: str = Field("", description="What is missing, if not sufficient.")


class PassageEvidence(BaseModel):
    """What one passage says about the question (PaperQA2-style evidence)."""

    summary: str = Field(..., description="What the passage says that bears on the question, 1-3 sentences; "
                         "empty if nothing.")
    relevance: int = Field(..., ge=0, le=10, description="0 (irrelevant) to 10 (answers the question directly).")
