"""``tradewind users``: the people and programs allowed into the web UI and the REST API."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from tradewind.cli.output import OUTPUT_OPTION, emit, fail
from tradewind.settings import Settings

ROLE_CHOICE = click.Choice(["Admin", "Op", "Viewer"])


@click.group()
def users() -> None:
    """Manage web users: Viewer reads, Op acts on DAGs and runs, Admin also manages users and pools."""


def _password(value: str | None) -> str:
    """The --password value or TRADEWIND_USER_PASSWORD; else a hidden prompt on a terminal."""
    if value:
        return value
    if not sys.stdin.isatty():
        fail("no password: pass --password or set TRADEWIND_USER_PASSWORD")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _token_ttl(settings: Settings) -> timedelta | None:
    return timedelta(days=settings.api_token_ttl_days) if settings.api_token_ttl_days > 0 else None


@users.command("create")
@click.option("--username", "-u", required=True, envvar="TRADEWIND_USER_NAME", help="[TRADEWIND_USER_NAME]")
@click.option(
    "--password",
    "-p",
    envvar="TRADEWIND_USER_PASSWORD",
    help="[TRADEWIND_USER_PASSWORD]; asked for when not given on a terminal.",
)
@click.option(
    "--role", "-r", type=ROLE_CHOICE, required=True, envvar="TRADEWIND_USER_ROLE", help="[TRADEWIND_USER_ROLE]"
)
@click.option("--email", "-e", default=None, envvar="TRADEWIND_USER_EMAIL", help="[TRADEWIND_USER_EMAIL]")
@click.option("--token", is_flag=True, help="Also issue an API token and print it (only this once).")
@click.option("--exists-ok", is_flag=True, help="Exit 0 without changes when the user exists (init scripts).")
@click.pass_obj
def create(
    settings: Settings, username: str, password: str | None, role: str, email: str | None, token: bool, exists_ok: bool
) -> None:
    """Add a user who can log in to the web UI and call the REST API."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.metastore import users as user_rows
    from tradewind.metastore.engine import session_scope

    secret = _password(password)
    with open_metastore(settings) as factory, session_scope(factory) as session:
        if exists_ok and user_rows.get_user_by_name(session, username.strip()) is not None:
            click.echo(f"User {username} exists already; nothing changed.")
            return
        try:
            user = user_rows.create_user(session, username, secret, role, email=email)
        except ValueError as exc:
            fail(str(exc))
        issued = user_rows.issue_api_token(session, user.username, ttl=_token_ttl(settings)) if token else None
    click.echo(f"User {user.username} created with role {user.role}.")
    if issued is not None:
        _print_token(issued, settings)


@users.command("list")
@OUTPUT_OPTION
@click.pass_obj
def list_users(settings: Settings, output: str) -> None:
    """List the users."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.metastore import users as user_rows
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings) as factory, session_scope(factory) as session:
        rows = [
            {
                "username": u.username,
                "role": u.role,
                "email": u.email,
                "active": u.active,
                "created_at": u.created_at,
                "last_login": u.last_login,
                "has_api_token": u.api_token_hash is not None,
            }
            for u in user_rows.list_users(session)
        ]
    emit(rows, ["username", "role", "email", "active", "created_at", "last_login", "has_api_token"], output)


@users.command("delete")
@click.argument("username")
@click.pass_obj
def delete(settings: Settings, username: str) -> None:
    """Delete a user (their sessions and API token stop working at once)."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.metastore import users as user_rows
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings) as factory, session_scope(factory) as session:
        deleted = user_rows.delete_user(session, username)
    if not deleted:
        fail(f"no user named {username!r}")
    click.echo(f"User {username} deleted.")


@users.command("set-password")
@click.argument("username")
@click.option(
    "--password",
    "-p",
    envvar="TRADEWIND_USER_PASSWORD",
    help="[TRADEWIND_USER_PASSWORD]; asked for when not given on a terminal.",
)
@click.pass_obj
def set_password(settings: Settings, username: str, password: str | None) -> None:
    """Change a user's password (their open web sessions end)."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.metastore import users as user_rows
    from tradewind.metastore.engine import session_scope

    secret = _password(password)
    with open_metastore(settings) as factory, session_scope(factory) as session:
        try:
            user_rows.set_password(session, username, secret)
        except ValueError as exc:
            fail(str(exc))
    click.echo(f"Password of {username} changed.")


@users.command("end-sessions")
@click.argument("username")
@click.pass_obj
def end_sessions(settings: Settings, username: str) -> None:
    """Log a user out everywhere: end every open web session (API tokens keep working)."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.errors import UserNotFound
    from tradewind.metastore import users as user_rows
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings) as factory, session_scope(factory) as session:
        try:
            ended = user_rows.end_sessions(session, username)
        except UserNotFound as exc:
            fail(str(exc))
    click.echo(f"Ended {ended} open session(s) of {username}.")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
@click.pass_obj
def set_role(settings: Settings, username: str, role: str) -> None:
    """Change a user's role."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.metastore import users as user_rows
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings) as factory, session_scope(factory) as session:
        user_rows.change_user(session, username, role=role)
    click.echo(f"{username} is now {role}.")


@users.command("token")
@click.argument("username")
@click.pass_obj
def token(settings: Settings, username: str) -> None:
    """Issue a new API token for a user (the previous one stops working) and print it."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.metastore import users as user_rows
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings) as factory, session_scope(factory) as session:
        issued = user_rows.issue_api_token(session, username, ttl=_token_ttl(settings))
    _print_token(issued, settings)


def _print_token(issued: str, settings: Settings) -> None:
    lifetime = f"valid {settings.api_token_ttl_days} days" if settings.api_token_ttl_days > 0 else "no expiry"
    click.echo(f"API token ({lifetime}; shown only now, send it as 'Authorization: Bearer <token>'):", err=True)
    click.echo(issued)
