"""The chat model: any OpenAI-compatible endpoint, or the embedded llama.cpp server.

- `ensure_endpoint(settings)` returns a base URL ending in ``/v1``: the configured ``BIOAGENT_LLM__BASE_URL``
  after checking that it answers, or the embedded llama.cpp server (started once per process, reused if one
  already serves the same GGUF on the port, stopped at exit).
- `chat_model(settings, overrides)` returns a langchain-openai ``ChatOpenAI`` on that endpoint.
- `LocalLLMServer` owns the embedded server process (also used by ``bioagent llm serve``).

Every failure is an `LLMUnavailable` whose message says what to start or set.
"""

from __future__ import annotations

import atexit
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from agent.llm.server import LLMUnavailable, LocalLLMServer, bundled_gguf, list_models, resolve_gguf

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

    from agent.events import RunOverrides
    from agent.settings import Settings

__all__ = [
    "LLMUnavailable",
    "LocalLLMServer",
    "bundled_gguf",
    "chat_model",
    "ensure_endpoint",
    "list_models",
    "normalize_base_url",
    "resolve_gguf",
    "stop_embedded",
]

#: How long a remote endpoint may take to answer GET /v1/models before it counts as unreachable.
PROBE_TIMEOUT_S = 5.0
#: A successful check is trusted this long, so building a model per run does not probe every time.
CHECK_TTL_S = 10.0

SGLANG_HINT = (
    "python -m sglang.launch_server --model-path Qwen/Qwen2.5-7B-Instruct --tool-call-parser qwen25 "
    "--host 0.0.0.0 --port 30000"
)

_lock = threading.Lock()
_embedded: dict[tuple[str, int], LocalLLMServer] = {}
_checked: dict[str, float] = {}
_atexit_registered = False


def normalize_base_url(url: str) -> str:
    """``http://host:30000`` -> ``http://host:30000/v1``; a URL with a path is kept as given (minus a trailing /)."""
    url = url.strip().rstrip("/")
    if urlsplit(url).path in ("", "/"):
        url += "/v1"
    return url


def _fresh(key: str) -> bool:
    ts = _checked.get(key)
    return ts is not None and time.monotonic() - ts < CHECK_TTL_S


def _check_remote(url: str, api_key: str | None) -> None:
    try:
        list_models(url, api_key=api_key, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        if code in (401, 403):
            raise LLMUnavailable(
                f"The LLM endpoint {url} rejected the API key (HTTP {code}): set BIOAGENT_LLM__API_KEY to the key "
                "the server expects."
            ) from None
        raise LLMUnavailable(
            f"The LLM endpoint {url} answered GET /models with HTTP {code}, so it is not an OpenAI-compatible "
            "base URL: set BIOAGENT_LLM__BASE_URL to the server's /v1 URL (e.g. http://host:30000/v1)."
        ) from None
    except (httpx.HTTPError, ValueError) as exc:
        reason = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
        raise LLMUnavailable(
            f"The LLM endpoint {url} (BIOAGENT_LLM__BASE_URL) is not reachable ({reason}): start SGLang with "
            f"`{SGLANG_HINT}` (or any OpenAI-compatible server: vLLM, Ollama, llama.cpp), or set "
            "BIOAGENT_LLM__BASE_URL to a running endpoint; unset it to use the embedded llama.cpp server."
        ) from None


def _embedded_server(settings: Settings) -> LocalLLMServer:
    """The process-wide embedded server for the configured host/port (started or reused on first use)."""
    global _atexit_registered
    llm = settings.llm
    key = (llm.local_host, llm.local_port)
    with _lock:
        server = _embedded.get(key)
        if server is not None:
            same_model = server.gguf == resolve_gguf(llm.gguf_path)
            if same_model and (_fresh(server.url) or server.health()):
                _checked[server.url] = time.monotonic()
                return server
            # it died (or the process that owned it exited), or another GGUF is configured: start again below
            _checked.pop(server.url, None)
            server.stop()
            del _embedded[key]
        server = LocalLLMServer.from_settings(settings)
        server.start(reuse=True)
        _embedded[key] = server
        _checked[server.url] = time.monotonic()
        if not _atexit_registered:
            atexit.register(stop_embedded)
            _atexit_registered = True
        return server


def stop_embedded() -> None:
    """Stop the embedded server(s) this process started (runs at exit; reused servers are left alone)."""
    with _lock:
        for server in _embedded.values():
            _checked.pop(server.url, None)
            server.stop()
        _embedded.clear()


def _resolve(settings: Settings | None) -> tuple[str, str]:
    """(base URL, model name) for the configured endpoint."""
    from agent.settings import get_settings

    settings = settings or get_settings()
    llm = settings.llm
    if llm.base_url:
        url = normalize_base_url(llm.base_url)
        if not _fresh(url):
            _check_remote(url, llm.api_key.get_secret_value())
            _checked[url] = time.monotonic()
        return url, llm.model
    server = _embedded_server(settings)
    # The embedded server serves exactly one model; name it in requests and traces unless a name was set.
    model = server.model_alias if llm.model == "default" else llm.model
    return server.url, model


def ensure_endpoint(settings: Settings | None = None) -> str:
    """An OpenAI-compatible base URL (ending in /v1) that answers; raises LLMUnavailable otherwise."""
    return _resolve(settings)[0]


def chat_model(settings: Settings | None = None, overrides: RunOverrides | None = None) -> ChatOpenAI:
    """A ``ChatOpenAI`` on the configured endpoint with the settings' sampling, limits, timeout and retries.

    `overrides` (temperature, top_p, max_tokens) win over the settings when set.
    """
    from agent.llm.chat import CompatChatOpenAI
    from agent.settings import get_settings

    settings = settings or get_settings()
    llm = settings.llm
    url, model = _resolve(settings)

    def pick(name: str):
        value = getattr(overrides, name, None) if overrides is not None else None
        return getattr(llm, name) if value is None else value

    return CompatChatOpenAI(
        base_url=url,
        model=model,
        api_key=llm.api_key.get_secret_value(),
        temperature=pick("temperature"),
        top_p=pick("top_p"),
        max_tokens=pick("max_tokens"),
        # An httpx.Timeout (unhashable) makes langchain-openai build this model its own HTTP clients instead of
        # sharing process-wide cached ones, whose pooled connections break once the event loop that opened
        # them is closed (a second asyncio.run, a Streamlit rerun, a test).
        timeout=httpx.Timeout(llm.timeout_s),
        max_retries=llm.max_retries,
        stream_usage=True,
    )
