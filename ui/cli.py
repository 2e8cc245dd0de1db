"""`bioagent ui`: start the Streamlit front end (headless) as a subprocess."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import typer

APP = Path(__file__).with_name("app.py")


def streamlit_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless=true",
        f"--server.address={host}",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        "--global.developmentMode=false",
        "--client.toolbarMode=viewer",
    ]


def register(app: typer.Typer) -> None:
    @app.command("ui")
    def ui(
        port: int | None = typer.Option(None, help="Port to serve on (default: BIOAGENT_UI__PORT, 8501)."),
        host: str | None = typer.Option(None, help="Bind address (default: BIOAGENT_UI__HOST, 127.0.0.1)."),
        api_url: str | None = typer.Option(
            None, "--api-url", help="Use a running `bioagent serve` at this URL instead of the in-process core."
        ),
        api_key: str | None = typer.Option(
            None, "--api-key", envvar="BIOAGENT_UI__API_KEY", help="Bearer key for --api-url.", show_default=False
        ),
    ) -> None:
        """Open the web UI: chat with a visible trace, sequence plots and reports, the library."""
        from agent.settings import get_settings

        if importlib.util.find_spec("streamlit") is None:
            typer.echo("The UI needs Streamlit: pip install 'bioagent[ui]'.", err=True)
            raise typer.Exit(2)
        settings = get_settings()
        host = host or settings.ui.host
        port = port or settings.ui.port
        env = dict(os.environ)
        if api_url:
            env["BIOAGENT_UI__API_URL"] = api_url
        if api_key:
            env["BIOAGENT_UI__API_KEY"] = api_key
        # The app imports `ui` and `agent` from this checkout even when it is not installed.
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        target = api_url or env.get("BIOAGENT_UI__API_URL") or "the in-process core"
        typer.echo(f"bioagent UI on http://{host}:{port} (talking to {target}); Ctrl+C stops it.", err=True)
        proc = subprocess.Popen(streamlit_command(host, port), env=env)

        def forward(signum: int, _frame: object) -> None:
            if proc.poll() is None:
                proc.send_signal(signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            code = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        raise typer.Exit(0 if code in (0, -signal.SIGINT, -signal.SIGTERM) else code)
