"""How commands print: tables for people, JSON (or YAML) for scripts, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import click

OUTPUT_OPTION = click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "yaml", "plain"]),
    default="table",
    show_default=True,
    envvar="TRADEWIND_OUTPUT",
    help="Output format; json (and yaml) is stable for scripts.",
)

#: The formats that print every field of every row, as data rather than text for people.
STRUCTURED = frozenset({"json", "yaml"})


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def emit_data(data: Any, fmt: str) -> None:
    """Print JSON-like ``data`` as JSON, or as YAML for ``fmt == "yaml"``."""
    if fmt == "yaml":
        import yaml

        click.echo(yaml.safe_dump(jsonable(data), sort_keys=False, allow_unicode=True), nl=False)
        return
    click.echo(json.dumps(jsonable(data), indent=2))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> None:
    """Print ``rows`` as a table, JSON or YAML (a list of objects, every field) or tab-separated plain text."""
    if fmt in STRUCTURED:
        emit_data([jsonable(r) for r in rows], fmt)
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    if fmt == "plain":
        for line in cells:
            click.echo("\t".join(line))
        return
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    click.echo(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    click.echo("-+-".join("-" * w for w in widths))
    for line in cells:
        click.echo(" | ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(none)")
