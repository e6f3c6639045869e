"""Reading and writing the files that ``connections`` and ``variables`` export and import
(``-`` is stdin or stdout), with one-line errors for a missing file or bad JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from tradewind.cli.arguments import BadArgument, json_object_argument


def read_text(file: str) -> str:
    """The text of ``file``, or of stdin for ``-``."""
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadArgument(f"no such file: {file}") from None
    except (OSError, UnicodeError) as exc:
        raise BadArgument(f"cannot read {file}: {exc}") from None


def read_json_object(file: str, shape: str) -> dict[str, Any]:
    """The JSON object in ``file``; ``shape`` describes what is expected, for the error."""
    return json_object_argument(read_text(file), "stdin" if file == "-" else file, f"must hold a JSON object: {shape}")


def write_export(file: str, text: str, done: str) -> None:
    """Write ``text`` to ``file`` and say ``done``; for ``-``, only ``text`` goes to stdout, so that it
    can be piped into ``import``."""
    if file == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadArgument(f"cannot write {file}: {exc}") from None
    click.echo(done)
