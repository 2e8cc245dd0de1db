#!/usr/bin/env python3
"""Container health check for every bioagent service (standard library only, no curl in the image).

    bioagent-healthcheck [URL]      # default: $BIOAGENT_HEALTHCHECK_URL

- ``http://...`` / ``https://...``: healthy when a GET answers with a status below 400;
- ``tcp://host:port``: healthy when the port accepts a connection (the MCP servers' streamable-HTTP endpoint
  answers plain GETs with 4xx, so the port is what is checked there).
Exit code 0 = healthy, 1 = unhealthy (with the reason on stderr).
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT_S = float(os.environ.get("BIOAGENT_HEALTHCHECK_TIMEOUT_S", "4"))


def check(url: str) -> str | None:
    """None when healthy, else the reason."""
    parts = urlsplit(url)
    if parts.scheme == "tcp":
        try:
            socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=TIMEOUT_S).close()
        except OSError as exc:
            return f"{url}: {exc}"
        return None
    if parts.scheme not in ("http", "https"):
        return f"unsupported health check URL {url!r} (use http://, https:// or tcp://)"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:  # noqa: S310 (scheme checked above)
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"
    return None if status < 400 else f"{url}: HTTP {status}"


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else os.environ.get("BIOAGENT_HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz")
    reason = check(url)
    if reason:
        print(f"unhealthy: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
