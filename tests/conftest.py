"""Shared test fixtures: an isolated data dir and settings per test, offline model loading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh BIOAGENT_DATA_DIR for this test; settings are re-read."""
    from agent.settings import get_settings

    d = tmp_path / "bioagent-data"
    monkeypatch.setenv("BIOAGENT_DATA_DIR", str(d))
    get_settings.cache_clear()
    yield d
    get_settings.cache_clear()


@pytest.fixture
def settings(data_dir):
    from agent.settings import get_settings

    return get_settings()


# Each area's session-wide fixtures (real servers, tiny models, ingested libraries) live in its own module.
pytest_plugins = [
    "tests.fixtures.kb",
    "tests.fixtures.sequence",
    "tests.fixtures.literature",
    "tests.fixtures.llm",
    "tests.fixtures.agent",
]
