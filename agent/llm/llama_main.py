"""``python -m agent.llm.llama_main``: llama.cpp's own HTTP server (prebuilt, via ``xllamacpp``) in this process.

`LocalLLMServer` runs this module as its subprocess. llama.cpp's C++ server serves the OpenAI-compatible API
(``/v1/models``, ``/v1/chat/completions`` with the model's Jinja chat template for tool calls, JSON-schema
output) with ``--parallel`` slots and continuous batching, so a health probe or a second question is answered
while another one generates. ``xllamacpp`` ships it as a prebuilt wheel: nothing is compiled at install time.

The process serves until SIGINT or SIGTERM, then shuts the server down and exits 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m agent.llm.llama_main", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="GGUF file to serve.")
    p.add_argument("--alias", required=True, help="Model id reported by /v1/models and accepted in requests.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n-ctx", type=int, default=4096, help="Context window of EACH parallel slot.")
    p.add_argument("--parallel", type=int, default=4, help="Parallel slots (continuous batching).")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--chat-template", default=None, help="Jinja chat template file (default: the GGUF's own).")
    return p.parse_args(argv)


def build_params(args: argparse.Namespace):
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_parallel = args.parallel
    # llama.cpp splits n_ctx over the slots; each slot gets the context a single-slot server would have.
    params.n_ctx = args.n_ctx * args.parallel
    params.use_jinja = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.offline = True  # never reach a model hub
    if args.chat_template:
        with open(args.chat_template, encoding="utf-8") as fh:
            params.chat_template = fh.read()
    return params


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import xllamacpp as xlc
    except ImportError:
        print("error: the embedded LLM server needs xllamacpp: pip install 'bioagent[local]'", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = xlc.Server(build_params(args))
    print(f"llama.cpp server listening on {server.listening_address} (model {args.alias}, "
          f"{args.parallel} slots)", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    del server  # ~Server stops the HTTP listener and the main loop
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
