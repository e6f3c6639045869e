"""``tradewind db``: create, upgrade, reset and check the metastore."""

from __future__ import annotations

import click

from tradewind.settings import Settings


@click.group()
def db() -> None:
    """Manage the metastore (TRADEWIND_DATABASE_URL)."""


@db.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Create the metastore or upgrade it to the latest schema (safe to run twice)."""
    from tradewind.metastore import migrate as migrations

    click.echo(migrations.migrate(settings))


@db.command()
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def reset(settings: Settings, yes: bool) -> None:
    """Drop every table and create the metastore anew. All history is lost."""
    from tradewind.metastore import migrate as migrations
    from tradewind.metastore.engine import redact

    if not yes:
        click.confirm(f"Drop all data in {redact(settings.resolved_database_url)}?", abort=True)
    click.echo(migrations.reset(settings))


@db.command()
@click.pass_obj
def check(settings: Settings) -> None:
    """Exit 0 when the metastore is reachable and fully migrated."""
    from tradewind.metastore import migrate as migrations

    click.echo(migrations.check(settings))
