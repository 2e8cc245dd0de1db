"""End to end in headless Chromium: `bioagent ui` on a free port (the real AgentService, knowledge base and MCP
servers in that process; the LLM endpoint is a deterministic OpenAI-compatible fake on 127.0.0.1), a question typed
into the chat, the live trace awaited, and a screenshot saved under the test's tmp dir."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ui.browser import chromium_path, open_browser
from tests.ui.fake_openai import ANSWER, FakeOpenAI
from tests.ui.fakes import REP_TEXT

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What does the Rep protein of PCV2 do?"
CHAT_BOX = 'textarea[data-testid="stChatInputTextArea"]'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"`bioagent ui` exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"`bioagent ui` not healthy after {timeout_s} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def running_ui(tmp_path_factory):
    """`bioagent ui --port P` with a library holding one Rep passage and a fake LLM endpoint."""
    from agent.kb.service import KnowledgeBase
    from agent.settings import Settings

    tmp = tmp_path_factory.mktemp("ui-e2e")
    data_dir = tmp / "data"
    doc = tmp / "pcv2-rep.md"
    doc.write_text(f"# The Rep protein of porcine circovirus 2\n\n{REP_TEXT}\n", encoding="utf-8")
    with KnowledgeBase(Settings(data_dir=data_dir)) as kb:  # closed before the app opens the same store
        kb.ingest_paths([doc])

    port = _free_port()
    log = tmp / "ui.log"
    with FakeOpenAI(delay_s=1.0) as llm:  # each model call takes a second: the trace grows visibly
        env = {k: v for k, v in os.environ.items() if not k.startswith("BIOAGENT_")}
        env.update(BIOAGENT_DATA_DIR=str(data_dir), BIOAGENT_LLM__BASE_URL=llm.base_url, HF_HUB_OFFLINE="1",
                   BIOAGENT_AGENT__MODE="guarded",  # the (fake) model answers: the trace shows its calls
                   TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "ui", "--port", str(port)], cwd=tmp, env=env,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc, log)
            yield url, llm, log
        finally:
            proc.terminate()  # `bioagent ui` forwards it to Streamlit
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=10)


@pytest.mark.parametrize("driver", ["playwright", "cdp"])
def test_question_in_the_browser_shows_the_trace_and_the_cited_answer(running_ui, driver, tmp_path):
    if driver == "playwright":
        pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    url, llm, log = running_ui
    browser = open_browser(tmp_path / "profile", driver)
    try:
        browser.goto(url)
        browser.wait_for_selector(CHAT_BOX, timeout_s=120)
        browser.type_and_enter(CHAT_BOX, QUESTION)

        deadline = time.monotonic() + 240
        text, live = "", []
        while time.monotonic() < deadline:
            text = browser.text()
            if "Trace —" in text and "[P1]" in text:
                break
            running = re.search(r"Working… (\d+) steps? so far", text)
            if running and "route — route:" in text:  # the run goes on; its finished steps are on the page
                live.append(int(running.group(1)))
                if live[-1] >= 2 and not (tmp_path / f"live-{driver}.png").exists():
                    browser.screenshot(tmp_path / f"live-{driver}.png")
            time.sleep(0.3)
        else:
            browser.screenshot(tmp_path / "timeout.png")
            pytest.fail(f"no finished trace after 240 s; page text:\n{text[-2000:]}\napp log:\n"
                        f"{log.read_text()[-3000:]}")

        # Open the trace and the retrieval step, as a researcher checking the answer would.
        assert browser.click_text("summary", "Trace —")
        time.sleep(0.5)
        assert browser.click_text("summary", "retrieve — round")
        time.sleep(1.0)
        text = browser.text()
        shot = tmp_path / f"bioagent-ui-{driver}.png"
        browser.screenshot(shot)
    finally:
        browser.close()

    assert live and max(live) >= 1, "the trace did not show steps while the run was going"
    for node in ("route", "rewrite", "retrieve", "grade", "answer", "verify"):
        assert node in text, node
    assert "Search queries" in text and "The Rep protein of porcine circovirus 2" in text
    assert ANSWER.removesuffix(" [P1].") in text
    assert any(r.get("messages") for r in llm.requests), "the app never called the LLM endpoint"
    assert shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")
