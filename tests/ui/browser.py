"""Headless Chromium (Debian's `chromium`) for the end-to-end UI test, driven by Playwright for Python when it is
installed (with the system browser: no browser download) or else directly over the Chrome DevTools Protocol.

Both drivers offer the few things the tests do: open a page, fill an element or type into it and press Enter,
wait for text, click an element by its text, read the page text, and save a PNG screenshot.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage",
    "--hide-scrollbars", "--mute-audio",
]
WINDOW = (1400, 2000)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


# JavaScript helpers shared by both drivers.
_CLICK_TEXT = """(args) => {
  const [selector, text] = args;
  const els = [...document.querySelectorAll(selector)].filter(e => (e.innerText || '').includes(text));
  if (!els.length) return false;
  els[0].scrollIntoView({block: 'center'});
  els[0].click();
  return true;
}"""


class PlaywrightBrowser:
    name = "playwright"

    def __init__(self, executable: str, profile: Path):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        flags = [f for f in CHROMIUM_FLAGS if f != "--headless"]  # Playwright adds its own headless flag
        self._ctx = self._pw.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=flags,
            viewport={"width": WINDOW[0], "height": WINDOW[1]})
        self.page = self._ctx.pages[0] if self._ctx.pages else self._ctx.new_page()

    def goto(self, url: str) -> None:
        self.page.goto(url, wait_until="domcontentloaded")

    def wait_for_selector(self, selector: str, timeout_s: float) -> None:
        self.page.wait_for_selector(selector, timeout=timeout_s * 1000)

    def type_and_enter(self, selector: str, text: str) -> None:
        box = self.page.locator(selector).first
        box.click()
        box.fill(text)
        box.press("Enter")

    def fill(self, selector: str, text: str) -> None:
        self.page.locator(selector).first.fill(text)

    def text(self) -> str:
        return self.page.evaluate("() => document.body.innerText")

    def click_text(self, selector: str, text: str) -> bool:
        return bool(self.page.evaluate(_CLICK_TEXT, [selector, text]))

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=str(path), full_page=True)

    def close(self) -> None:
        try:
            self._ctx.close()
        finally:
            self._pw.stop()


class CDPBrowser:
    """Chromium started by us with --remote-debugging-port=0, driven over its DevTools WebSocket."""

    name = "cdp"

    def __init__(self, executable: str, profile: Path):
        from websockets.sync.client import connect

        profile.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", f"--window-size={WINDOW[0]},{WINDOW[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self._id = 0
        self._call("Page.enable")
        self._call("Runtime.enable")
        self._call("Emulation.setDeviceMetricsOverride",
                   {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False})

    def _call(self, method: str, params: dict | None = None, timeout_s: float = 60) -> dict:
        self._id += 1
        call_id = self._id
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def _eval(self, expression: str) -> Any:
        result = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text", "script error"))
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self._call("Page.navigate", {"url": url})
        deadline = time.monotonic() + 30
        while self._eval("document.readyState") not in ("interactive", "complete"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            time.sleep(0.1)

    def wait_for_selector(self, selector: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self._eval(f"!!document.querySelector({json.dumps(selector)})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {selector} after {timeout_s} s")
            time.sleep(0.2)

    def type_and_enter(self, selector: str, text: str) -> None:
        self._eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self._call("Input.insertText", {"text": text})
        for kind in ("keyDown", "keyUp"):
            self._call("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                  "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13,
                                                  **({"text": "\r"} if kind == "keyDown" else {})})

    def fill(self, selector: str, text: str) -> None:
        self._eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self._call("Input.insertText", {"text": text})

    def text(self) -> str:
        return self._eval("document.body.innerText") or ""

    def click_text(self, selector: str, text: str) -> bool:
        return bool(self._eval(f"({_CLICK_TEXT})({json.dumps([selector, text])})"))

    def screenshot(self, path: Path) -> None:
        shot = self._call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)


def open_browser(profile: Path, driver: str | None = None):
    """Playwright when importable (unless ``driver='cdp'``), else the DevTools Protocol driver."""
    executable = chromium_path()
    if executable is None:
        raise FileNotFoundError("chromium")
    if driver != "cdp":
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            if driver == "playwright":
                raise
        else:
            return PlaywrightBrowser(executable, profile)
    return CDPBrowser(executable, profile)
