"""Users of the API and who owns which thread: in the Postgres database of the checkpointer when it is one (every
replica sees the same users and threads), else in a small SQLite file (``data_dir/users.sqlite``);
``BIOAGENT_API__USERS_DB`` (a path or a ``postgresql://`` URL) chooses explicitly.

- A user has a name, a role (``admin`` or ``user``), API keys and optionally a password. A key is shown once
  (``bioagent users add``); only its salted scrypt hash is stored. A key looks like ``bak_<key id>.<secret>``:
  the key id finds the row, the secret is checked against the hash. Verified keys are cached in memory for a
  minute (scrypt is deliberately slow) and the cache is cleared when a user or key is removed.
- Preferences (``lang``) are per user.
- Threads: ``thread_id -> owner, title, updated_at``. A thread belongs to the user whose run created it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Role = Literal["admin", "user"]
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEY_PREFIX = "bak_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_CACHE_S = 60.0
_CACHE_MAX = 4096
DEFAULT_PREFERENCES = {"lang": "en"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bioagent_users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, password_salt BLOB, password_hash BLOB,
  preferences TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS bioagent_api_keys (
  key_id TEXT PRIMARY KEY, owner TEXT NOT NULL REFERENCES bioagent_users(name) ON DELETE CASCADE,
  salt BLOB NOT NULL, hash BLOB NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS bioagent_threads (
  thread_id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS bioagent_threads_owner ON bioagent_threads(owner, updated_at);
"""


@dataclass(frozen=True)
class User:
    name: str
    role: Role = "user"
    preferences: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PREFERENCES), compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AccountError(ValueError):
    """A user-facing problem with an account command (bad name, unknown user, user exists)."""


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, **_SCRYPT)


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise AccountError(f"invalid user name {name!r}: 1-64 letters, digits or ._- (starting with a letter or digit)")
    return name


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(("postgres://", "postgresql://", "postgresql+psycopg://"))


class AccountStore:
    def __init__(self, location: str | Path) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[User, float]] = {}
        self._pool = None
        self._db = None
        if is_postgres(location):
            from psycopg_pool import ConnectionPool

            self.path = None
            url = str(location).replace("postgresql+psycopg://", "postgresql://")
            self._pool = ConnectionPool(url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=True)
            schema = _SCHEMA.replace("BLOB", "BYTEA").replace("REAL", "DOUBLE PRECISION")
            with self._pool.connection() as conn:
                for statement in filter(str.strip, schema.split(";")):
                    conn.execute(statement)
            self._integrity = __import__("psycopg").errors.UniqueViolation
            return
        self.path = Path(location)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._integrity = sqlite3.IntegrityError

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
            elif self._db is not None:
                self._db.close()

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        if self._pool is not None:
            with self._pool.connection() as conn:
                cur = conn.execute(sql.replace("?", "%s"), args)
                return [tuple(r) for r in cur.fetchall()] if cur.description else []
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- users -------------------------------------------------------------------------------------------------
    def add_user(self, name: str, role: Role = "user", password: str | None = None) -> str:
        """Create a user and return their first API key (shown once)."""
        check_name(name)
        salt, pw = (secrets.token_bytes(16), None) if password else (None, None)
        if password:
            pw = _hash(password, salt)
        try:
            self._q("INSERT INTO bioagent_users(name, role, password_salt, password_hash, preferences, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (name, role, salt, pw, json.dumps(DEFAULT_PREFERENCES), time.time()))
        except self._integrity:
            raise AccountError(f"user {name!r} already exists") from None
        return self.new_key(name)

    def get_user(self, name: str) -> User | None:
        rows = self._q("SELECT role, preferences FROM bioagent_users WHERE name = ?", (name,))
        if not rows:
            return None
        return User(name, rows[0][0], {**DEFAULT_PREFERENCES, **json.loads(rows[0][1] or "{}")})

    def list_users(self) -> list[dict[str, Any]]:
        rows = self._q("SELECT u.name, u.role, u.password_hash IS NOT NULL, COUNT(k.key_id), u.created_at "
                       "FROM bioagent_users u LEFT JOIN bioagent_api_keys k ON k.owner = u.name GROUP BY u.name ORDER BY u.name")
        return [{"name": r[0], "role": r[1], "password": bool(r[2]), "keys": r[3], "created_at": r[4]} for r in rows]

    def remove_user(self, name: str) -> None:
        if self.get_user(name) is None:
            raise AccountError(f"no user {name!r}")
        self._q("DELETE FROM bioagent_users WHERE name = ?", (name,))
        self._cache.clear()

    def new_key(self, name: str, *, replace: bool = False) -> str:
        if self.get_user(name) is None:
            raise AccountError(f"no user {name!r}")
        if replace:
            self._q("DELETE FROM bioagent_api_keys WHERE owner = ?", (name,))
            self._cache.clear()
        key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_bytes(16)
        self._q("INSERT INTO bioagent_api_keys(key_id, owner, salt, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (key_id, name, salt, _hash(secret, salt), time.time()))
        return f"{KEY_PREFIX}{key_id}.{secret}"

    def set_password(self, name: str, password: str) -> None:
        salt = secrets.token_bytes(16)
        self._q("UPDATE bioagent_users SET password_salt = ?, password_hash = ? WHERE name = ?", (salt, _hash(password, salt), name))

    def authenticate_key(self, token: str) -> User | None:
        if not token.startswith(KEY_PREFIX) or "." not in token:
            return None
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        key_id, _, secret = token[len(KEY_PREFIX):].partition(".")
        rows = self._q("SELECT owner, salt, hash FROM bioagent_api_keys WHERE key_id = ?", (key_id,))
        if not rows or not secrets.compare_digest(_hash(secret, rows[0][1]), rows[0][2]):
            return None
        user = self.get_user(rows[0][0])
        if user is not None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = (user, time.monotonic() + _CACHE_S)
        return user

    def check_password(self, name: str, password: str) -> User | None:
        rows = self._q("SELECT password_salt, password_hash FROM bioagent_users WHERE name = ?", (name,))
        if not rows or rows[0][1] is None:
            _hash(password, b"\0" * 16)  # the same time whether or not the user exists
            return None
        if not secrets.compare_digest(_hash(password, rows[0][0]), rows[0][1]):
            return None
        return self.get_user(name)

    def set_preferences(self, name: str, prefs: dict[str, Any]) -> User:
        user = self.get_user(name)
        merged = {**(user.preferences if user else DEFAULT_PREFERENCES), **prefs}
        if user is None:  # the admin key of the settings has no row until it stores something
            self._q("INSERT INTO bioagent_users(name, role, preferences, created_at) VALUES (?, 'admin', ?, ?)",
                    (name, json.dumps(merged), time.time()))
        else:
            self._q("UPDATE bioagent_users SET preferences = ? WHERE name = ?", (json.dumps(merged), name))
        self._cache.clear()
        return self.get_user(name)  # type: ignore[return-value]

    # -- threads -----------------------------------------------------------------------------------------------
    def thread_owner(self, thread_id: str) -> str | None:
        rows = self._q("SELECT owner FROM bioagent_threads WHERE thread_id = ?", (thread_id,))
        return rows[0][0] if rows else None

    def claim_thread(self, thread_id: str, owner: str, title: str) -> bool:
        """One statement: record ``owner`` as the thread's owner if it has none, or mark it used if it is
        theirs; True when the thread is (now) theirs, False when it is someone else's."""
        now = time.time()
        rows = self._q(
            "INSERT INTO bioagent_threads(thread_id, owner, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (thread_id) DO UPDATE SET updated_at = excluded.updated_at "
            "WHERE bioagent_threads.owner = excluded.owner RETURNING owner",
            (thread_id, owner, " ".join(title.split())[:120], now, now))
        return bool(rows)

    def touch_thread(self, thread_id: str) -> None:
        self._q("UPDATE bioagent_threads SET updated_at = ? WHERE thread_id = ?", (time.time(), thread_id))

    def list_threads(self, owner: str, limit: int = 200) -> list[dict[str, Any]]:
        rows = self._q("SELECT thread_id, title, updated_at FROM bioagent_threads WHERE owner = ? "
                       "ORDER BY updated_at DESC LIMIT ?", (owner, limit))
        return [{"thread_id": r[0], "title": r[1], "updated_at": r[2]} for r in rows]

    def delete_thread(self, thread_id: str) -> None:
        self._q("DELETE FROM bioagent_threads WHERE thread_id = ?", (thread_id,))


def store_path(settings: Any) -> str | Path:
    """``BIOAGENT_API__USERS_DB``; else the checkpointer's Postgres database; else ``data_dir/users.sqlite``."""
    if settings.api.users_db:
        return settings.api.users_db if is_postgres(settings.api.users_db) else Path(settings.api.users_db)
    if settings.agent.checkpoint_url and is_postgres(settings.agent.checkpoint_url):
        return settings.agent.checkpoint_url
    return Path(settings.data_dir) / "users.sqlite"
