"""``tradewind db``: create, upgrade, reset, check and clean the metastore."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from tradewind import retention
from tradewind.cli.output import OUTPUT_OPTION, emit, fail
from tradewind.settings import Settings

if TYPE_CHECKING:
    from tradewind.cli.db_cleaner import TableOutcome


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
    from tradewind.redaction import redact

    if not yes:
        click.confirm(f"Drop all data in {redact(settings.resolved_database_url)}?", abort=True)
    click.echo(migrations.reset(settings))


@db.command()
@click.pass_obj
def check(settings: Settings) -> None:
    """Exit 0 when the metastore is reachable and fully migrated."""
    from tradewind.metastore import migrate as migrations

    click.echo(migrations.check(settings))


def _clean_help() -> str:
    lines = [f"  {t.name:<22} {t.table}.{t.age_column}\n  {'':<22} keeps {t.keeps}" for t in retention.CLEAN_TABLES]
    return (
        "Delete history older than --clean-before-timestamp, table by table (Airflow's `db clean`).\n\n"
        "Rows go in batches, each its own short transaction; on PostgreSQL a batch skips rows another "
        "transaction holds (FOR UPDATE SKIP LOCKED), so a running scheduler is never locked out. "
        "Deleting a run also deletes its task instances, tries, XComs and task logs. Nothing is archived. "
        "A heartbeat is fresh within TRADEWIND_HEALTH_CHECK_THRESHOLD seconds.\n\n"
        "\b\nTables: the name --tables takes, the column that dates a row, what is kept whatever its age\n"
        + "\n".join(lines)
    )


@db.command(help=_clean_help())
@click.option(
    "--clean-before-timestamp",
    required=True,
    metavar="TIMESTAMP",
    help="Delete rows dated before this: ISO 8601, e.g. 2024-01-01 or '2024-01-01 00:00:00+01:00'. "
    "Without a time zone it is UTC (Airflow reads it in its default_timezone, UTC unless "
    "configured; tradewind has no such setting).",
)
@click.option(
    "--tables",
    "-t",
    metavar="NAMES",
    help=f"Comma-separated tables to clean  [default: all: {', '.join(retention.table_names())}]",
)
@click.option("--dry-run", is_flag=True, help="Count, per table, the rows that would be deleted; delete nothing.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=retention.DEFAULT_BATCH_SIZE,
    show_default=True,
    envvar="TRADEWIND_DB_CLEAN_BATCH_SIZE",
    help="Rows deleted per transaction; lower it if runs have many task instances or log chunks, "
    "which go in the same transaction as their run.  [TRADEWIND_DB_CLEAN_BATCH_SIZE]",
)
@click.option(
    "--skip-archive",
    is_flag=True,
    help="Accepted for scripts written for Airflow and changes nothing: tradewind never archives, "
    "deleted rows are gone (back the metastore up first if you may need them).",
)
@click.option("--verbose", "-v", is_flag=True, help="Print each batch on stderr as it is deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@OUTPUT_OPTION
@click.pass_obj
def clean(
    settings: Settings,
    clean_before_timestamp: str,
    tables: str | None,
    dry_run: bool,
    batch_size: int,
    skip_archive: bool,
    verbose: bool,
    yes: bool,
    output: str,
) -> None:
    from tradewind.cli import db_cleaner
    from tradewind.cli.arguments import BadArgument, parse_date
    from tradewind.cli.metastore_access import open_metastore

    before = parse_date(clean_before_timestamp, "--clean-before-timestamp")
    assert before is not None
    try:
        plan = retention.plan_clean(
            before,
            tables,
            batch_size=batch_size,
            now=datetime.now(UTC),
            alive_for=timedelta(seconds=settings.health_check_threshold),
        )
    except retention.UnknownTable as exc:
        raise BadArgument(str(exc)) from None
    if verbose:
        click.echo(
            f"Rows dated before {plan.before.isoformat()} from {', '.join(_names(plan))}, "
            f"{plan.batch_size} per batch; jobs and workers that heartbeat since "
            f"{plan.alive_since.isoformat()} count as alive.",
            err=True,
        )
    with open_metastore(settings) as factory:
        if dry_run:
            outcomes = db_cleaner.count(factory, plan)
        else:
            if not yes:
                _confirm_clean(plan)
            outcomes = db_cleaner.delete(factory, plan, on_batch=_print_batch if verbose else None)
    _print_outcomes(plan, outcomes, dry_run=dry_run, output=output)
    stopped = [o for o in outcomes if o.stopped]
    if stopped:
        fail(
            f"{', '.join(o.table.name for o in stopped)} not finished: {stopped[0].stopped} "
            "(what was deleted is listed above)"
        )


def _names(plan: retention.CleanPlan) -> list[str]:
    return [table.name for table in plan.tables]


def _confirm_clean(plan: retention.CleanPlan) -> None:
    click.echo(
        f"You asked to delete every row dated before {plan.before.isoformat()} from "
        f"{', '.join(_names(plan))}.\nThis cannot be undone: back the metastore up first, "
        "or see what would go with --dry-run.",
        err=True,
    )
    try:
        answer = click.prompt(
            "Enter 'delete rows' (without quotes) to proceed", default="", show_default=False, err=True
        )
    except click.Abort:
        answer = ""
    if not sys.stdin.isatty():
        # An answer read from a pipe is not echoed, so nothing has ended the prompt's line.
        click.echo(err=True)
    if answer.strip() != "delete rows":
        fail("not confirmed; nothing was deleted")


def _print_batch(table: retention.CleanTable, number: int, rows: int, seconds: float) -> None:
    click.echo(f"{table.name}: batch {number}: {rows} row(s) deleted in {seconds:.2f} s", err=True)


def _print_outcomes(plan: retention.CleanPlan, outcomes: list[TableOutcome], *, dry_run: bool, output: str) -> None:
    rows = [
        {
            "table": o.table.name,
            "stored_in": o.table.table,
            "age_column": o.table.age_column,
            "rows": o.rows,
            "dry_run": dry_run,
            "stopped": o.stopped,
            "keeps": o.table.keeps,
        }
        for o in outcomes
    ]
    if output == "table":
        done = "would be deleted (dry run: nothing was deleted)" if dry_run else "deleted"
        click.echo(f"Rows dated before {plan.before.isoformat()} {done}:")
    # What each table keeps is the point of a dry run; after a real one it would only widen the table.
    emit(rows, ["table", "stored_in", "age_column", "rows"] + (["keeps"] if dry_run else []), output)
    if output == "table" and any(o.table.name == "dag_run" for o in outcomes):
        click.echo("\nA deleted run takes its task instances, tries, XComs and task logs with it.")
