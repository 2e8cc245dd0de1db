"""End to end over HTTP, in headless Chromium: a real `bioagent serve` process (uvicorn, the real AgentService,
embedded Qdrant and the sequence MCP server; the LLM endpoint is the deterministic OpenAI-compatible fake) and
`bioagent ui --api-url` in front of it. A user signs in with a password, asks a question (answer + trace), opens
the library (the shared document is listed), and switches the UI to 中文; screenshots in both languages are saved
under the test's tmp dir, and the language is stored as the user's preference on the server."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ui.browser import chromium_path, open_browser
from tests.ui.fake_openai import ANSWER, FakeOpenAI
from tests.ui.fakes import REP_TEXT
from tests.fixtures.llm import free_port
from tests.fixtures.procs import start, stop, wait_http

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What does the Rep protein of PCV2 do?"
CHAT_BOX = 'textarea[data-testid="stChatInputTextArea"]'
SIDEBAR = '[data-testid="stSidebar"]'
DOCS_IMG = ROOT / "docs" / "img"
DOCS_MAX_BYTES = 300_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """`bioagent serve` (user alice with a password, one shared Rep passage) and `bioagent ui --api-url`."""
    from agent.api.accounts import AccountStore, store_path
    from agent.kb.service import KnowledgeBase
    from agent.settings import Settings

    tmp = tmp_path_factory.mktemp("ui-api-e2e")
    data_dir = tmp / "data"
    settings = Settings(data_dir=data_dir)
    doc = tmp / "pcv2-rep.md"
    doc.write_text(f"# The Rep protein of porcine circovirus 2\n\n{REP_TEXT}\n", encoding="utf-8")
    with KnowledgeBase(settings) as kb:  # closed before the API opens the same store
        kb.ingest_paths([doc])
    accounts = AccountStore(store_path(settings))
    alice_key = accounts.add_user("alice", password="alice-password")
    accounts.close()

    api_port, ui_port = free_port(), free_port()
    with FakeOpenAI(delay_s=0.3) as llm:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BIOAGENT_")}
        env.update(BIOAGENT_DATA_DIR=str(data_dir), BIOAGENT_LLM__BASE_URL=llm.base_url, HF_HUB_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT), BIOAGENT_MCP__LITERATURE__ENABLED="false",
                   BIOAGENT_AGENT__MODE="guarded")  # the (fake) model answers
        api_log, ui_log = tmp / "api.log", tmp / "ui.log"
        api = start([sys.executable, "-m", "agent.cli", "serve", "--port", str(api_port)], env, tmp, api_log)
        api_url = f"http://127.0.0.1:{api_port}"
        ui = None
        try:
            wait_http(f"{api_url}/healthz", api, api_log, "`bioagent serve`")
            ui_env = {**env, "BIOAGENT_UI__API_URL": api_url}  # no key: every browser signs its user in
            ui = start([sys.executable, "-m", "agent.cli", "ui", "--port", str(ui_port)], ui_env, tmp, ui_log)
            ui_url = f"http://127.0.0.1:{ui_port}"
            wait_http(f"{ui_url}/_stcore/health", ui, ui_log, "`bioagent ui`")
            yield {"api": api_url, "ui": ui_url, "key": alice_key, "llm": llm, "logs": (api_log, ui_log)}
        finally:
            if ui is not None:
                stop(ui)
            stop(api)


def _wait_text(browser, *needles: str, timeout_s: float = 180, shot: Path | None = None) -> str:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = browser.text()
        if all(n in text for n in needles):
            return text
        time.sleep(0.3)
    if shot is not None:
        browser.screenshot(shot)
    raise AssertionError(f"{needles} not on the page after {timeout_s} s; page text:\n{text[-2500:]}")


def _open_trace(browser, trace: str, retrieve: str) -> None:
    """Open the finished trace and its retrieval step, as a researcher checking the answer would."""
    assert browser.click_text("summary", trace)
    time.sleep(0.5)
    assert browser.click_text("summary", retrieve)
    time.sleep(1.0)


def _me(api_url: str, key: str) -> dict:
    request = urllib.request.Request(f"{api_url}/v1/me", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def test_sign_in_ask_library_and_chinese_over_the_api(stack, tmp_path):
    browser = open_browser(tmp_path / "profile")
    failed = tmp_path / "failed.png"
    try:
        browser.goto(stack["ui"])
        _wait_text(browser, "Sign in to bioagent", "Username", shot=failed)
        browser.fill('input[aria-label="Username"]', "alice")
        browser.fill('input[aria-label="Password"]', "alice-password")
        assert browser.click_text("button", "Sign in")
        browser.wait_for_selector(CHAT_BOX, timeout_s=120)
        _wait_text(browser, "Signed in as alice", shot=failed)

        browser.type_and_enter(CHAT_BOX, QUESTION)
        _wait_text(browser, "Trace —", "[P1]", timeout_s=240, shot=failed)
        _open_trace(browser, "Trace —", "retrieve — round")
        text_en = browser.text()
        shot_en = tmp_path / "ui-en.png"
        browser.screenshot(shot_en)

        assert browser.click_text("a", "Library")
        # Streamlit renders the page in pieces: wait for the documents count too (under load it came later)
        library = _wait_text(browser, "Add documents", "Shared library", "Remove a document", "Documents\n",
                             shot=failed)
        assert "Documents\n\n1" in library or "Documents\n1" in library  # the shared passage's document

        assert browser.click_text(f"{SIDEBAR} label", "中文")
        library_zh = _wait_text(browser, "添加文献", "共享文献库", "删除一篇文献", shot=failed)
        assert "Add documents" not in library_zh
        assert browser.click_text("a", "对话")
        _wait_text(browser, "向 bioagent 提问", "运行轨迹 —", ANSWER.removesuffix(" [P1]."), shot=failed)
        _open_trace(browser, "运行轨迹 —", "retrieve — 第 1 轮")
        text_zh = browser.text()
        shot_zh = tmp_path / "ui-zh.png"
        browser.screenshot(shot_zh)
    finally:
        browser.close()

    for node in ("route", "rewrite", "retrieve", "grade", "answer", "verify"):
        assert node in text_en, node
    assert ANSWER.removesuffix(" [P1].") in text_en and "Search queries" in text_en
    assert ANSWER.removesuffix(" [P1].") in text_zh and "当前用户：alice" in text_zh
    assert "检索词（第 1 轮）" in text_zh  # the trace's labels are in Chinese too
    assert _me(stack["api"], stack["key"])["preferences"]["lang"] == "zh"  # remembered for alice on the server
    assert any(r.get("messages") for r in stack["llm"].requests)
    for shot in (shot_en, shot_zh):
        assert shot.stat().st_size > 20_000
        if os.environ.get("BIOAGENT_UPDATE_DOCS_IMG") and shot.stat().st_size < DOCS_MAX_BYTES:
            shutil.copy(shot, DOCS_IMG / shot.name)
    print(f"screenshots: {shot_en} {shot_zh}")
