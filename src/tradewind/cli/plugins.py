"""``tradewind plugins``: the plugins of the plugins folder, what each provides, and the files that
could not be loaded (Airflow's ``airflow plugins``). Exits 1 when a plugin file failed."""

from __future__ import annotations

import sys
from typing import Any

import click

from tradewind.cli.output import OUTPUT_OPTION, STRUCTURED, emit
from tradewind.settings import Settings


def plugin_rows() -> list[dict[str, Any]]:
    """One row per loaded plugin and one per plugin file that failed."""
    from tradewind.sdk import plugins

    rows: list[dict[str, Any]] = []
    for plugin in plugins.loaded():
        cls = type(plugin)
        rows.append(
            {
                "name": cls.name,
                "source": plugin.source,
                "macros": [m.__name__ for m in cls.macros],
                "timetables": [plugins.qualified_name(t) for t in cls.timetables],
                # Accepted as Airflow defines them; tradewind does nothing with them.
                "without_effect": [
                    name for name in plugins.INERT_ATTRIBUTES if name != "source" and getattr(cls, name)
                ],
                "error": None,
            }
        )
    for source, message in plugins.errors().items():
        rows.append(
            {"name": None, "source": source, "macros": [], "timetables": [], "without_effect": [], "error": message}
        )
    return rows


@click.command("plugins")
@OUTPUT_OPTION
@click.pass_obj
def plugins_command(settings: Settings, output: str) -> None:
    """List the plugins of TRADEWIND_PLUGINS_FOLDER: their macros, timetables and the attributes
    tradewind accepts without effect; a file that failed to load is listed with its error."""
    from tradewind.sdk import plugins

    plugins.configure(settings.resolved_plugins_folder)
    rows = plugin_rows()
    if not rows and output not in STRUCTURED:
        click.echo("No plugins loaded")
        return
    emit(rows, ["name", "source", "macros", "timetables", "without_effect", "error"], output)
    if any(row["error"] for row in rows):
        sys.exit(1)
