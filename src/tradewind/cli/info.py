"""``tradewind version`` and ``tradewind info``: what is installed and how it is configured."""

from __future__ import annotations

import platform
import sys

import click

from tradewind.settings import Settings
from tradewind.version import __version__


@click.command()
def version() -> None:
    """Print tradewind's version."""
    click.echo(__version__)


@click.command()
@click.pass_obj
def info(settings: Settings) -> None:
    """Show versions, the settings in force and every TRADEWIND_* variable."""
    from tradewind.compat.airflow_shim import SUPPORTED_MODULES
    from tradewind.redaction import redact

    click.echo(f"tradewind      {__version__}")
    click.echo(f"python         {sys.version.split()[0]} ({platform.platform()})")
    click.echo(f"home           {settings.home}")
    click.echo(f"dags folder    {settings.resolved_dags_folder}")
    click.echo(f"metastore      {redact(settings.resolved_database_url)}")
    click.echo(f"broker         {settings.broker_url or '(embedded)'}")
    click.echo("\nSettings (environment variables):")
    for name, help_text in Settings.describe():
        click.echo(f"  {name:38} {help_text}")
    click.echo("\nAirflow modules a DAG file may import:")
    for module in SUPPORTED_MODULES:
        click.echo(f"  {module}")
