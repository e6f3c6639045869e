"""A ``tradewind dags trigger`` (and the other verbs that act on the metastore alone) starts faster
without the cyclic collector's passes over its imports; nothing that runs for long, or that runs
inside someone else's process, loses its collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import click
import pytest

from tradewind.cli import main as entry_point
from tradewind.cli import short_lived
from tradewind.cli.main import cli

METASTORE_VERBS = {
    "dags show",
    "dags details",
    "dags next-execution",
    "dags delete",
    "dags list-runs",
    "dags trigger",
    "dags pause",
    "dags unpause",
    "dags backfill",
    "tasks list",
    "tasks states-for-dag-run",
    "tasks clear",
    "tasks state",
    "tasks failed-deps",
}


def commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


@pytest.fixture
def console_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if this process were the ``tradewind`` console entry point, which ends with its command."""
    monkeypatch.setattr(short_lived, "_process_ends_with_command", False)
    was_enabled = gc.isenabled()
    short_lived.process_ends_with_command()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def test_the_console_entry_point_says_its_process_ends_with_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(short_lived, "_process_ends_with_command", False)
    seen: list[bool] = []
    monkeypatch.setattr(entry_point, "cli", lambda **_: seen.append(short_lived._process_ends_with_command))
    monkeypatch.setattr(gc, "freeze", lambda: None)  # main() freezes what the process holds as it exits

    entry_point.main()

    assert seen == [True]


def test_a_metastore_verb_of_the_console_entry_point_runs_without_the_collector(console_process: None) -> None:
    seen = short_lived.short_lived(gc.isenabled)

    assert seen() is False
    assert not gc.isenabled()  # and it stays off: the process ends with the command


def test_the_same_verb_inside_a_longer_lived_process_leaves_the_collector_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(short_lived, "_process_ends_with_command", False)
    seen = short_lived.short_lived(gc.isenabled)

    assert seen() is True
    assert gc.isenabled()


def test_only_the_verbs_that_act_on_the_metastore_alone_are_short_lived() -> None:
    marked = {name for name, command in commands(cli) if short_lived.is_short_lived(command.callback)}

    # Not the roles, nor `dags test` / `tasks test` / `tasks render` / `dags list` (they run user code).
    assert marked == METASTORE_VERBS


def test_a_short_lived_verb_keeps_its_help_text() -> None:
    trigger = dict(commands(cli))["dags trigger"]

    assert trigger.help is not None and trigger.help.startswith("Create a run of a DAG now")
