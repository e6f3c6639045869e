"""``tradewind providers list`` and ``tradewind plugins``: what extends tradewind, as Airflow lists
its provider packages and plugins. The providers are the ones tradewind serves itself; tradewind
loads no Airflow plugins."""

from __future__ import annotations

import click

from tradewind.cli.output import OUTPUT_OPTION, STRUCTURED, emit, emit_data


@click.group()
def providers() -> None:
    """Display the Airflow providers whose modules DAG files may import."""


@providers.command("list")
@OUTPUT_OPTION
def list_providers(output: str) -> None:
    """List the provider packages served by tradewind itself (no separate install)."""
    from tradewind.compat.providers import served_providers

    rows = [
        {"package_name": p.package_name, "description": p.description, "version": p.version} for p in served_providers()
    ]
    emit(rows, ["package_name", "description", "version"], output)


@click.command()
@OUTPUT_OPTION
def plugins(output: str) -> None:
    """List the loaded plugins: none, since tradewind loads no Airflow plugins (a DAG file imports
    the operators, hooks and macros it uses)."""
    if output in STRUCTURED:
        emit_data([], output)
    else:
        click.echo("No plugins loaded")
