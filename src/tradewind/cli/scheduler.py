"""``tradewind scheduler``: run the scheduler until SIGTERM or SIGINT."""

from __future__ import annotations

import sys

import click

from tradewind.settings import Settings


@click.command()
@click.pass_obj
def scheduler(settings: Settings) -> None:
    """Run the scheduler: parse the DAG folder, create runs, queue ready task instances to the workers,
    find zombies. Several may run on PostgreSQL; on SQLite only one."""
    from tradewind.master.scheduler.main import run_scheduler

    sys.exit(run_scheduler(settings))
