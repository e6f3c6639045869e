"""``tradewind triggerer``: run a triggerer until SIGTERM or SIGINT."""

from __future__ import annotations

import sys

import click

from tradewind.settings import Settings


@click.command()
@click.option(
    "--capacity",
    type=click.IntRange(min=1),
    default=None,
    envvar="TRADEWIND_TRIGGERER_CAPACITY",
    help="Most triggers this triggerer runs at once (default 1000).",
)
@click.pass_obj
def triggerer(settings: Settings, capacity: int | None) -> None:
    """Run a triggerer: run deferred tasks' triggers on an asyncio loop and send each task back to
    a worker when its trigger fires. Any number may run; they share the triggers through the
    metastore, and the triggers of one that stops heartbeating go to the others."""
    from dataclasses import replace

    from tradewind.triggerer.main import run_triggerer

    if capacity is not None:
        settings = replace(settings, triggerer_capacity=capacity)
    sys.exit(run_triggerer(settings))
