"""Every UI text exists in English and 中文 with the same parameters, and the pages hand Streamlit no literal
words of their own (everything visible goes through ui/i18n.t)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ui.i18n import LANGS, normalize_lang, placeholders, plural, t
from ui.i18n_text import TEXT

UI = Path(__file__).resolve().parents[2] / "ui"
PAGES = [UI / "app.py", UI / "render.py", UI / "citations_view.py", *sorted((UI / "views").glob("*.py"))]
# Streamlit calls whose text arguments the user reads.
SHOWN = {"title", "header", "subheader", "caption", "markdown", "write", "text", "error", "warning", "info",
         "success", "button", "form_submit_button", "download_button", "page_link", "text_input", "text_area",
         "selectbox", "multiselect", "radio", "toggle", "checkbox", "slider", "number_input", "file_uploader",
         "chat_input", "expander", "status", "spinner", "progress", "metric", "tabs", "segmented_control",
         "image", "update", "Page"}
TEXT_KWARGS = {"label", "placeholder", "text", "caption", "help", "title"}
NAMES_NOT_WORDS = {"DOI", "PMID", "bioagent", "API"}  # the same in both languages
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_key_has_both_languages_with_the_same_parameters():
    assert TEXT
    for key, entry in TEXT.items():
        assert set(entry) == set(LANGS), key
        assert all(isinstance(v, str) and v.strip() for v in entry.values()), key
        assert placeholders(entry["en"]) == placeholders(entry["zh"]), key
    # 中文 texts are Chinese (a few keys are symbols or names, the same in both)
    same = [k for k, v in TEXT.items() if v["en"] == v["zh"]]
    assert len(same) <= 6, same
    untranslated = [k for k, v in TEXT.items() if v["en"] != v["zh"] and not CJK.search(v["zh"])
                    and re.search(r"[A-Za-z]{4,}", re.sub(r"{\w*}|`[^`]*`", "", v["zh"]))]
    assert not untranslated, untranslated


def test_t_formats_in_the_requested_language():
    assert t("lib.removed", "en", doc="x") == "Removed x."
    assert t("lib.removed", "zh", doc="x") == "已删除 x。"
    assert plural(1, "sum.passage", "sum.passages", "en") == "1 passage"
    assert plural(3, "sum.passage", "sum.passages", "en") == "3 passages"
    assert normalize_lang("zh-CN") == "zh" and normalize_lang("EN_us") == "en" and normalize_lang(None) == "en"
    with pytest.raises(KeyError, match="no UI text"):
        t("no.such.key")


def _words(node: ast.AST) -> str:
    """The literal text a call argument contributes (string constants and f-string constant parts)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return " ".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.BinOp):
        return _words(node.left) + " " + _words(node.right)
    if isinstance(node, ast.IfExp):
        return _words(node.body) + " " + _words(node.orelse)
    return ""


def _literal_words(text: str) -> list[str]:
    text = re.sub(r":material/[a-z_]+:", " ", text)  # icons
    text = re.sub(r":(green|red|orange|blue|gray)\[", " ", text)
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in NAMES_NOT_WORDS]


def test_pages_pass_no_untranslated_literal_to_streamlit():
    offenders = []
    for path in PAGES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in SHOWN:
                continue
            args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg in TEXT_KWARGS]
            if name in ("Page", "page_link"):  # the script path is not text
                args = [k.value for k in node.keywords if k.arg in TEXT_KWARGS]
            for arg in args:
                words = _literal_words(_words(arg))
                if words:
                    offenders.append(f"{path.name}:{node.lineno} {name}({' '.join(words)})")
    assert not offenders, "untranslated UI text:\n" + "\n".join(offenders)


def test_the_scan_finds_a_literal():
    tree = ast.parse('st.button("Add to library")\nst.caption(f"{x} passages")\nst.markdown(t("a.b"))')
    found = [_literal_words(_words(c.args[0])) for c in ast.walk(tree) if isinstance(c, ast.Call)
             and isinstance(c.func, ast.Attribute)]
    assert found == [["Add", "to", "library"], ["passages"], []]
