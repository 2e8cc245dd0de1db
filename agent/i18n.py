"""Text in the user's language: tables of ``{key: {"en": ..., "zh": ...}}`` looked up with English as the fallback.

```python
T = Texts({"title": {"en": "Sequence report", "zh": "序列分析报告"}})
T("title", "zh")      # "序列分析报告"
T("title", "fr")      # "Sequence report" (no French: English)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FALLBACK = "en"


def in_language(entry: Mapping[str, Any], lang: str) -> Any:
    """The entry's text in ``lang``, else in English."""
    return entry.get(lang, entry[FALLBACK])


class Texts:
    """A table of texts per key and language; calling it looks one up (unknown key: KeyError)."""

    def __init__(self, table: Mapping[str, Mapping[str, Any]]):
        self.table = table

    def __call__(self, key: str, lang: str) -> Any:
        return in_language(self.table[key], lang)

    def __contains__(self, key: object) -> bool:
        return key in self.table
