"""``tradewind providers list``: the Airflow provider packages whose modules tradewind serves itself,
as Airflow lists its installed providers (``tradewind plugins`` is in ``plugins.py``)."""

from __future__ import annotations

import click

from tradewind.cli.output import OUTPUT_OPTION, emit


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
