"""The in-process UI's per-user records: each user's thread index and preferences, one small JSON file each under
``<data_dir>/ui/users/<user>/``, read and written under an exclusive file lock (several browser sessions and
Streamlit processes may write at once). Over the HTTP API the server keeps these per user instead."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_THREADS = 200
_LOCAL = threading.Lock()  # flock is per open file; this also serialises threads of one process


def safe_user(name: str) -> str:
    """A user name as a directory name (letters, digits, ``._-``); never empty, never a path."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name or "")).strip("._") or "local"
    return cleaned[:64]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCAL, open(path.with_suffix(path.suffix + ".lock"), "a+") as handle:
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except ImportError:  # no fcntl (Windows): the in-process lock only
            pass
        yield


def _read(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _write(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)  # readers never see half a file


class UserStore:
    """One user's thread index (``thread_id``, ``title``, ``updated_at``) and preferences."""

    def __init__(self, data_dir: Path | str, user: str):
        self.user = safe_user(user)
        self.root = Path(data_dir) / "ui" / "users" / self.user
        self._threads = self.root / "threads.json"
        self._prefs = self.root / "preferences.json"

    def threads(self) -> list[dict]:
        items = _read(self._threads, [])
        return [t for t in items if isinstance(t, dict) and t.get("thread_id")] if isinstance(items, list) else []

    def touch_thread(self, thread_id: str, title: str) -> None:
        """Record a run on ``thread_id``: first question as its title, now as its last use."""
        with _locked(self._threads):
            items = self.threads()
            previous = next((t for t in items if t["thread_id"] == thread_id), None)
            items = [t for t in items if t["thread_id"] != thread_id]
            items.insert(0, {"thread_id": thread_id, "title": (previous or {}).get("title") or title[:80],
                             "updated_at": time.time()})
            _write(self._threads, items[:MAX_THREADS])

    def owns_thread(self, thread_id: str) -> bool:
        return any(t["thread_id"] == thread_id for t in self.threads())

    def forget_thread(self, thread_id: str) -> bool:
        with _locked(self._threads):
            items = self.threads()
            kept = [t for t in items if t["thread_id"] != thread_id]
            if len(kept) != len(items):
                _write(self._threads, kept)
            return len(kept) != len(items)

    def preferences(self) -> dict:
        prefs = _read(self._prefs, {})
        return prefs if isinstance(prefs, dict) else {}

    def set_preferences(self, **changes: Any) -> dict:
        with _locked(self._prefs):
            prefs = {**self.preferences(), **{k: v for k, v in changes.items() if v is not None}}
            _write(self._prefs, prefs)
        return prefs
