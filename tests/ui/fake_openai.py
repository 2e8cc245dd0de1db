"""A tiny OpenAI-compatible chat endpoint for the browser test: deterministic, instant, on 127.0.0.1.

It answers every chat completion (streaming or not) with a fixed text, after an optional delay, and
`GET /v1/models`. The real
AgentService in the `bioagent ui` subprocess talks to it through ChatOpenAI like to any endpoint, so the test
exercises the whole stack (graph, knowledge base, MCP tools, UI) without a model's latency or randomness.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = "Rep proteins of CRESS-DNA viruses start rolling-circle replication and unwind the DNA [P1]."


class _Handler(BaseHTTPRequestHandler):
    server_version = "fake-openai/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "test"}]})
        elif self.path.rstrip("/") in ("/health", "/v1/health", ""):
            self._json(200, {"status": "ok"})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(request)  # type: ignore[attr-defined]
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": "not found"}})
            return
        time.sleep(self.server.delay_s)  # type: ignore[attr-defined]
        created = int(time.time())
        usage = {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62}
        if not request.get("stream"):
            self._json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER},
                             "finish_reason": "stop"}],
                "usage": usage,
            })
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

        def chunk(delta: dict, finish: str | None = None, with_usage: bool = False) -> None:
            payload = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": "fake",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if with_usage:
                payload = {**payload, "choices": [], "usage": usage}
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        for word in ANSWER.split(" "):
            chunk({"content": word + " "})
        chunk({}, "stop")
        if (request.get("stream_options") or {}).get("include_usage"):
            chunk({}, with_usage=True)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


class FakeOpenAI:
    """`with FakeOpenAI() as llm:` then point BIOAGENT_LLM__BASE_URL at `llm.base_url`."""

    def __init__(self, host: str = "127.0.0.1", delay_s: float = 0.0):
        self.server = ThreadingHTTPServer((host, 0), _Handler)
        self.server.daemon_threads = True
        self.server.requests = []  # type: ignore[attr-defined]
        self.server.delay_s = delay_s  # type: ignore[attr-defined]  # before each completion: a run takes seconds
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> list[dict]:
        return self.server.requests  # type: ignore[attr-defined]

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
