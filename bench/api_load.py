"""Load benchmark of the HTTP API: concurrent streaming runs against 127.0.0.1 with a fixed-latency fake LLM.

    python bench/api_load.py                       # 100 runs, 50 at a time, 0.1 s per LLM call
    python bench/api_load.py --runs 200 --concurrency 50 --latency 0.2 --json bench/results/api_load.json
    python bench/api_load.py --modes sse-memory,sse-postgres --durability exit   # Postgres against memory

Everything but the LLM is real: the AgentService and its LangGraph graph with the SQLite checkpointer, the
FastAPI app under uvicorn (in a subprocess, so that client and server do not share an interpreter), the SSE
stream read by httpx, and the OpenAI-compatible endpoint read by the ``openai`` client. The knowledge base is a
small in-memory one (retrieval cost is not what this measures) and there are no MCP tools. ``sse-postgres``
starts a real PostgreSQL server (Debian's binaries, as the tests do) for the Postgres checkpointer
(psycopg_pool), measured next to ``sse-memory`` (the in-memory checkpointer) in the same run.

The same runs are first made in-process (``AgentService.stream`` consumed directly, no HTTP): that is the
baseline, and the difference is what the HTTP layer costs. Reported per mode: runs, errors, wall time,
throughput, p50/p95 latency of a whole run and of the first answer token. Bounded: ``--runs`` in total,
``--concurrency`` at a time, and ``--timeout`` seconds per mode; exits 1 on any error or timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, Python puts bench/ first on the path, where bench/agent.py would shadow the `agent` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

API_KEY = "bench-key"
QUESTION = "What does the Rep protein of porcine circovirus 2 do?"


@dataclass
class Sample:
    ok: bool
    latency_s: float
    ttft_s: float | None = None
    error: str | None = None


@dataclass
class ModeResult:
    mode: str
    runs: int
    errors: int
    wall_s: float
    throughput: float
    p50_s: float
    p95_s: float
    ttft_p50_s: float | None
    ttft_p95_s: float | None
    cpu_ms_per_run: float | None = None
    error_examples: list[str] = field(default_factory=list)
    timed_out: bool = False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def cpu_seconds(pid: int | None = None) -> float | None:
    """CPU time (user + system, all threads) of this process, or of another one on Linux."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def summarize(mode: str, samples: list[Sample], wall: float, timed_out: bool, expected: int) -> ModeResult:
    ok = [s for s in samples if s.ok]
    ttfts = [s.ttft_s for s in ok if s.ttft_s is not None]
    errors = [s.error or "error" for s in samples if not s.ok] + ["timeout"] * (expected - len(samples))
    return ModeResult(
        mode=mode, runs=len(samples), errors=len(errors), wall_s=wall, throughput=len(ok) / wall if wall else 0.0,
        p50_s=percentile([s.latency_s for s in ok], 0.5), p95_s=percentile([s.latency_s for s in ok], 0.95),
        ttft_p50_s=percentile(ttfts, 0.5) if ttfts else None, ttft_p95_s=percentile(ttfts, 0.95) if ttfts else None,
        error_examples=sorted(set(errors))[:5], timed_out=timed_out)


# -- the service under test -----------------------------------------------------------------------------------


def build_service(data_dir: Path, latency: float, tokens: int, token_delay: float, checkpointer: str = "sqlite",
                  checkpoint_url: str | None = None, durability: str = "async"):
    from agent.runner import AgentService
    from agent.settings import AgentSettings, APISettings, Settings
    from tests.api.helpers import FixedLatencyChatModel, MemoryKB

    settings = Settings(data_dir=data_dir, api=APISettings(api_key=API_KEY, max_concurrent_runs=1000),
                        agent=AgentSettings(checkpoint_url="memory:" if checkpointer == "memory" else checkpoint_url,
                                            checkpoint_pool_size=10, checkpoint_durability=durability))
    answer = " ".join(["Rep nicks the origin and unwinds DNA [P1]."] * max(1, tokens // 8))
    words = answer.split(" ")[:tokens]
    model = FixedLatencyChatModel(latency_s=latency, token_delay_s=token_delay, answer=" ".join(words))
    return settings, AgentService(settings, chat_model=model, knowledge_base=MemoryKB(), tools=[])


def serve(args: argparse.Namespace) -> None:
    """Subprocess mode: the API with the fake LLM on 127.0.0.1:PORT until killed."""
    import uvicorn

    from agent.api import create_app

    settings, service = build_service(Path(args.data_dir), args.latency, args.tokens, args.token_delay,
                                      args.checkpointer, args.checkpoint_url, args.durability)
    app = create_app(settings, service=service, close_service=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", backlog=2048)


# -- clients --------------------------------------------------------------------------------------------------


async def measured(args: argparse.Namespace, one, cpu_pid: int | None) -> tuple[list[Sample], float, float | None]:
    """A warm-up run, then ``--runs`` runs, ``--concurrency`` at a time: (samples, wall s, serving CPU s)."""
    await one(-1)  # warm-up: graph compile, checkpointer open, connections
    gate = asyncio.Semaphore(args.concurrency)

    async def guarded(i: int) -> Sample:
        async with gate:
            return await one(i)

    cpu0 = cpu_seconds(cpu_pid)
    started = time.perf_counter()
    samples = list(await asyncio.gather(*(guarded(i) for i in range(args.runs))))
    wall = time.perf_counter() - started
    cpu1 = cpu_seconds(cpu_pid)
    return samples, wall, (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None


async def in_process(args: argparse.Namespace, data_dir: Path) -> tuple[list[Sample], float, float | None]:
    _settings, service = build_service(data_dir, args.latency, args.tokens, args.token_delay, args.checkpointer,
                                       durability=args.durability)
    await service.start()

    async def one(i: int) -> Sample:
        started = time.perf_counter()
        ttft = None
        try:
            done = False
            async for event in service.stream(QUESTION, thread_id=f"inproc-{i}"):
                if event.type == "token" and ttft is None:
                    ttft = time.perf_counter() - started
                done = done or event.type == "done"
            return Sample(done, time.perf_counter() - started, ttft, None if done else "no done event")
        except Exception as exc:  # noqa: BLE001 - counted as an error
            return Sample(False, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}"[:200])

    try:
        return await measured(args, one, None)
    finally:
        await service.aclose()


async def http_sse(args: argparse.Namespace, base_url: str, cpu_pid: int | None) -> tuple[list[Sample], float, float | None]:
    import httpx

    limits = httpx.Limits(max_connections=args.concurrency + 10, max_keepalive_connections=args.concurrency + 10)
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"},
                                 timeout=httpx.Timeout(args.timeout), limits=limits) as client:

        async def one(i: int) -> Sample:
            started = time.perf_counter()
            ttft = None
            try:
                async with client.stream("POST", "/v1/runs/stream",
                                         json={"message": QUESTION, "thread_id": f"sse-{i}"}) as r:
                    if r.status_code != 200:
                        return Sample(False, time.perf_counter() - started, error=f"HTTP {r.status_code}")
                    event, done = None, False
                    async for line in r.aiter_lines():
                        if line.startswith("event: "):
                            event = line[7:]
                            if event == "token" and ttft is None:
                                ttft = time.perf_counter() - started
                            if event == "error":
                                return Sample(False, time.perf_counter() - started, error="error event")
                            done = done or event == "done"
                return Sample(done, time.perf_counter() - started, ttft, None if done else "no done event")
            except Exception as exc:  # noqa: BLE001
                return Sample(False, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}"[:200])

        return await measured(args, one, cpu_pid)


async def http_openai(args: argparse.Namespace, base_url: str,
                      cpu_pid: int | None) -> tuple[list[Sample], float, float | None]:
    import httpx
    from openai import AsyncOpenAI

    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=args.concurrency + 10), timeout=args.timeout)
    client = AsyncOpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0, http_client=http)

    async def one(i: int) -> Sample:
        started = time.perf_counter()
        ttft = None
        try:
            stream = await client.chat.completions.create(
                model="bioagent", stream=True, messages=[{"role": "user", "content": QUESTION}],
                extra_body={"thread_id": f"oai-{i}"})
            finished = False
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content and ttft is None:
                    ttft = time.perf_counter() - started
                if chunk.choices and chunk.choices[0].finish_reason:
                    finished = True
            return Sample(finished, time.perf_counter() - started, ttft, None if finished else "no finish")
        except Exception as exc:  # noqa: BLE001
            return Sample(False, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}"[:200])

    try:
        return await measured(args, one, cpu_pid)
    finally:
        await client.close()


# -- orchestration --------------------------------------------------------------------------------------------


def start_server(args: argparse.Namespace, data_dir: Path, checkpointer: str,
                 checkpoint_url: str | None = None) -> tuple[subprocess.Popen, str, Path]:
    import socket, httpx  # noqa: E401

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = data_dir / "server.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "--port", str(port), "--data-dir", str(data_dir),
           "--latency", str(args.latency), "--tokens", str(args.tokens), "--token-delay", str(args.token_delay),
           "--checkpointer", checkpointer, "--durability", args.durability,
           *(["--checkpoint-url", checkpoint_url] if checkpoint_url else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=str(data_dir))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url, log
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the API server did not start within 60 s")


def http_runs(args: argparse.Namespace, data_dir: Path, checkpointer: str, http_modes: list[str]) -> list[ModeResult]:
    """The HTTP modes against one server subprocess with ``checkpointer`` (a PostgreSQL server started for it)."""
    data_dir.mkdir()
    pg = url = None
    if checkpointer == "postgres":
        from tests.fixtures.postgres import PostgresServer, postgres_bindir

        pg = PostgresServer(postgres_bindir()).start()
        url = pg.new_database()
    labelled = checkpointer != args.checkpointer or "sse-memory" in args.modes
    suffix, out = (f" ({checkpointer} checkpointer)" if labelled else ""), []
    try:
        proc, base_url, log = start_server(args, data_dir, checkpointer, url)
        try:
            if "sse" in http_modes:
                out.append(asyncio.run(run_mode(f"HTTP SSE /v1/runs/stream{suffix}", http_sse(args, base_url, proc.pid), args)))
            if "openai" in http_modes:
                out.append(asyncio.run(run_mode(f"HTTP openai chat stream{suffix}",
                                                http_openai(args, base_url, proc.pid), args)))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if any(r.errors for r in out):
            print(log.read_text()[-3000:], file=sys.stderr)
    finally:
        if pg is not None:
            pg.stop()
    return out


def fmt(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.3f}"


def print_table(results: list[ModeResult], args: argparse.Namespace) -> None:
    print(f"\n{args.runs} streaming runs per mode, {args.concurrency} concurrent; fake LLM: {args.latency:g} s per call, "
          f"answer {args.tokens} tokens {args.token_delay * 1000:g} ms apart; {args.checkpointer} checkpointer, "
          f"durability {args.durability}; "
          f"Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs\n")
    head = ["mode", "runs", "errors", "wall s", "runs/s", "p50 s", "p95 s", "TTFT p50", "TTFT p95", "server CPU ms/run"]
    rows = [[r.mode, str(r.runs), str(r.errors), f"{r.wall_s:.2f}", f"{r.throughput:.1f}", fmt(r.p50_s), fmt(r.p95_s),
             fmt(r.ttft_p50_s), fmt(r.ttft_p95_s), "-" if r.cpu_ms_per_run is None else f"{r.cpu_ms_per_run:.1f}"]
            for r in results]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    memory = next((r for r in results if "(memory checkpointer)" in r.mode), None)
    for r in results:
        if memory is not None and "(postgres checkpointer)" in r.mode and memory.throughput:
            print(f"\n{r.mode}: {r.throughput / memory.throughput:.2f}x the runs/s of the memory checkpointer "
                  f"(target >= 0.8x); p95 {fmt(r.p95_s)} s against {fmt(memory.p95_s)} s; {r.errors} errors")
    base = results[0]
    if base.mode.startswith("in-process") and base.throughput:
        for r in results[1:]:
            cpu = (f"; {r.cpu_ms_per_run - base.cpu_ms_per_run:+.1f} ms CPU per run"
                   if r.cpu_ms_per_run is not None and base.cpu_ms_per_run is not None else "")
            print(f"\n{r.mode}: {1000 * (r.p50_s - base.p50_s):+.1f} ms at p50, {1000 * (r.p95_s - base.p95_s):+.1f} "
                  f"ms at p95 against in-process; throughput {r.throughput / base.throughput:.0%} of in-process{cpu}")
    print(f"\nload average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(other work on the machine inflates wall times; CPU per run is less sensitive to it)")
    for r in results:
        if r.errors:
            print(f"\n{r.mode}: {r.errors} errors, e.g. {r.error_examples}")


async def run_mode(name: str, coro, args: argparse.Namespace) -> ModeResult:
    """One mode, bounded by ``--timeout``; CPU per run is the serving process's (this one for in-process)."""
    started = time.perf_counter()
    try:
        samples, wall, cpu = await asyncio.wait_for(coro, args.timeout)
    except asyncio.TimeoutError:
        return summarize(name, [], time.perf_counter() - started, True, args.runs)
    result = summarize(name, samples, wall, False, args.runs)
    if cpu is not None and samples:
        result.cpu_ms_per_run = 1000 * cpu / len(samples)
    return result


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=100, help="runs per mode (default 100)")
    p.add_argument("--concurrency", type=int, default=50, help="runs in flight at once (default 50)")
    p.add_argument("--latency", type=float, default=0.1, help="fake LLM latency per call, seconds (default 0.1)")
    p.add_argument("--tokens", type=int, default=24, help="answer tokens (default 24)")
    p.add_argument("--token-delay", type=float, default=0.005, help="seconds between answer tokens (default 0.005)")
    p.add_argument("--timeout", type=float, default=180.0, help="time limit per mode, seconds (default 180)")
    p.add_argument("--checkpointer", choices=["sqlite", "memory", "postgres"], default="sqlite",
                   help="checkpointer of the inprocess, sse and openai modes (default sqlite)")
    p.add_argument("--modes", default="inprocess,sse,openai",
                   help="comma-separated: inprocess, sse, openai, sse-memory, sse-postgres")
    p.add_argument("--durability", choices=["async", "sync", "exit"], default="async",
                   help="BIOAGENT_AGENT__CHECKPOINT_DURABILITY of every mode (default async)")
    p.add_argument("--checkpoint-url", help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args)
        return 0
    if args.runs < 1 or args.concurrency < 1:
        p.error("--runs and --concurrency must be positive")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results: list[ModeResult] = []
    with tempfile.TemporaryDirectory(prefix="bioagent-api-load-") as tmp:
        tmp_path = Path(tmp)
        if "inprocess" in modes:
            (tmp_path / "inproc").mkdir()
            results.append(asyncio.run(run_mode("in-process (no HTTP)", in_process(args, tmp_path / "inproc"), args)))
        servers = [(args.checkpointer, [m for m in modes if m in ("sse", "openai")])]
        servers += [(m.removeprefix("sse-"), ["sse"]) for m in modes if m in ("sse-memory", "sse-postgres")]
        for checkpointer, http_modes in servers:
            if http_modes:
                results += http_runs(args, tmp_path / f"http-{checkpointer}-{len(results)}", checkpointer, http_modes)
    print_table(results, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k not in ("json", "serve",
                                         "port", "data_dir")}, "python": platform.python_version(),
                                         "cpus": os.cpu_count(), "results": [asdict(r) for r in results]}, indent=2))
    return 1 if any(r.errors or r.timed_out for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
