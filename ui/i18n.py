"""Every word the UI shows, in English and 中文: ``t("key", **params)`` in the session's language.

The language is the signed-in user's preference (``client.preferences()``), chosen in the sidebar; pages read it
from ``st.session_state["lang"]``. Strings are ``str.format`` templates; both languages of a key take the same
parameters (tests/ui/test_i18n.py checks that, and that the pages pass no untranslated literal to Streamlit).
"""

from __future__ import annotations

import string
from typing import Any

from ui.i18n_text import TEXT

LANGS = ("en", "zh")
LANG_NAMES = {"en": "English", "zh": "中文"}
DEFAULT_LANG = "en"
SESSION_KEY = "lang"


def normalize_lang(value: Any) -> str:
    """``en``/``zh`` (``zh-CN``, ``zh_TW``, ``ZH`` count as zh); anything else is the default."""
    text = str(value or "").strip().lower().replace("_", "-")
    if text.startswith("zh"):
        return "zh"
    return "en" if text.startswith("en") else DEFAULT_LANG


def current_lang() -> str:
    try:
        import streamlit as st

        return normalize_lang(st.session_state.get(SESSION_KEY, DEFAULT_LANG))
    except Exception:  # noqa: BLE001 - outside a Streamlit script (client code, tests): the default
        return DEFAULT_LANG


def t(key: str, lang: str | None = None, **params: Any) -> str:
    """The text of ``key`` in ``lang`` (default: the session's), formatted with ``params``."""
    entry = TEXT.get(key)
    if entry is None:
        raise KeyError(f"no UI text {key!r} in ui/i18n_text.py")
    template = entry[normalize_lang(lang or current_lang())]
    return template.format(**params) if params else template


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def plural(n: int, key_one: str, key_many: str, lang: str | None = None) -> str:
    """``n`` with the singular or plural text (Chinese has one form; both keys exist for English)."""
    return t(key_one if n == 1 else key_many, lang, n=n)
