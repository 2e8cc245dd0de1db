"""`bioagent serve`: the HTTP API under uvicorn; `bioagent users`: its users and their keys."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from agent.api.users_cli import users_app

    app.add_typer(users_app, name="users")

    @app.command("serve")
    def serve(
        host: str = typer.Option(None, "--host", help="Bind host (default: BIOAGENT_API__HOST, 127.0.0.1)."),
        port: int = typer.Option(None, "--port", min=1, max=65535, help="Bind port (default: BIOAGENT_API__PORT)."),
        log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    ) -> None:
        """Serve the HTTP API: runs, SSE streaming, OpenAI-compatible chat, ingest, health and metrics.

        Needs BIOAGENT_API__API_KEY (clients send `Authorization: Bearer <key>`), or
        BIOAGENT_API__AUTH_DISABLED=true for unauthenticated local use. One process serves many concurrent runs;
        run a single worker (the conversation checkpointer and the embedded store are per process).
        """
        import uvicorn

        from agent.api.app import create_app
        from agent.api.auth import AuthConfigError
        from agent.settings import get_settings

        settings = get_settings()
        host = host or settings.api.host
        port = port or settings.api.port
        try:
            api = create_app(settings)
        except AuthConfigError as exc:
            typer.secho(f"bioagent serve: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
        if settings.api.auth_disabled:
            typer.secho("bioagent serve: authentication is DISABLED (BIOAGENT_API__AUTH_DISABLED=true); "
                        "anyone who can reach the port can use the API.", err=True, fg=typer.colors.YELLOW)
        typer.echo(f"bioagent API on http://{host}:{port} (OpenAPI docs at /docs, OpenAI base URL /v1)", err=True)
        # On SIGTERM uvicorn stops accepting, lets open responses (running answers) finish for at most the grace
        # period, then the app's shutdown gives background runs and jobs the same bound before cancelling them.
        uvicorn.run(api, host=host, port=port, log_level=log_level,
                    timeout_graceful_shutdown=settings.api.shutdown_grace_s or None)
