"""`bioagent users add|list|remove|reset-key|password`: the API's users (in ``data_dir/users.sqlite`` or
``BIOAGENT_API__USERS_DB``). A key is printed once; only its salted hash is stored."""

from __future__ import annotations

import typer

users_app = typer.Typer(help="Users of the HTTP API and their keys.", no_args_is_help=True)


def _store():
    from agent.api.accounts import AccountStore, store_path
    from agent.settings import get_settings

    return AccountStore(store_path(get_settings()))


def _fail(exc: Exception) -> None:
    typer.secho(f"bioagent users: {exc}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


def _password() -> str:
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="User name (letters, digits, ._-)."),
    admin: bool = typer.Option(False, "--admin", help="May manage the shared library and see every document."),
    password: bool = typer.Option(False, "--password", help="Also set a password (prompted) for the UI sign-in."),
) -> None:
    """Create a user and print their API key (shown once)."""
    from agent.api.accounts import AccountError

    store = _store()
    try:
        secret = _password() if password else None
        key = store.add_user(name, "admin" if admin else "user", password=secret)
    except AccountError as exc:
        _fail(exc)
    finally:
        store.close()
    typer.echo(key)
    typer.secho(f"user {name!r} ({'admin' if admin else 'user'}) created; the key above is shown only once.",
                err=True, fg=typer.colors.GREEN)


@users_app.command("list")
def list_users() -> None:
    """Users, roles, whether they have a password, and how many keys."""
    store = _store()
    try:
        for u in store.list_users():
            typer.echo(f"{u['name']}\t{u['role']}\tpassword={'yes' if u['password'] else 'no'}\tkeys={u['keys']}")
    finally:
        store.close()


@users_app.command("remove")
def remove(name: str = typer.Argument(...)) -> None:
    """Remove a user and their keys (their threads and documents stay, owned by nobody who can sign in)."""
    from agent.api.accounts import AccountError

    store = _store()
    try:
        store.remove_user(name)
    except AccountError as exc:
        _fail(exc)
    finally:
        store.close()
    typer.echo(f"removed {name}")


@users_app.command("reset-key")
def reset_key(name: str = typer.Argument(...)) -> None:
    """Revoke the user's keys and print a new one (shown once)."""
    from agent.api.accounts import AccountError

    store = _store()
    try:
        typer.echo(store.new_key(name, replace=True))
    except AccountError as exc:
        _fail(exc)
    finally:
        store.close()


@users_app.command("password")
def password(name: str = typer.Argument(...)) -> None:
    """Set or change the user's password (prompted)."""
    store = _store()
    try:
        if store.get_user(name) is None:
            _fail(ValueError(f"no user {name!r}"))
        store.set_password(name, _password())
    finally:
        store.close()
    typer.echo(f"password set for {name}")
