"""``tradewind dags``: list DAGs and their import errors, re-import the folder, show one and its details,
list its runs and its next ones, report on the DAG folder's imports, test, trigger, pause, backfill and
delete."""

from __future__ import annotations

import sys

import click

from tradewind.cli.arguments import parse_conf, parse_date
from tradewind.cli.output import OUTPUT_OPTION, STRUCTURED, emit, emit_data
from tradewind.cli.short_lived import short_lived
from tradewind.settings import Settings
from tradewind.states import DagRunState, DagRunType


@click.group()
def dags() -> None:
    """Inspect, run, trigger, pause and delete DAGs."""


@dags.command("list")
@OUTPUT_OPTION
@click.pass_obj
def list_dags(settings: Settings, output: str) -> None:
    """List the DAGs of the DAG folder."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.metastore import dags as dag_rows
    from tradewind.metastore import import_errors
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings, sync=True) as factory, session_scope(factory) as session:
        rows = [
            {
                "dag_id": d.dag_id,
                "fileloc": d.fileloc,
                "owners": d.owners,
                "is_paused": d.is_paused,
                "schedule": d.schedule_description,
                "tags": list(d.tags or []),
            }
            for d in dag_rows.list_dags(session)
        ]
        broken = len(import_errors.list_import_errors(session))
    emit(rows, ["dag_id", "fileloc", "owners", "is_paused", "schedule", "tags"], output)
    if broken and output not in STRUCTURED:
        click.echo(f"{broken} file(s) failed to import; see `tradewind dags list-import-errors`", err=True)


@dags.command("list-import-errors")
@OUTPUT_OPTION
@click.pass_obj
def list_import_errors(settings: Settings, output: str) -> None:
    """List DAG files that failed to import, one line each; exit 1 if there are any."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.metastore import import_errors
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings, sync=True) as factory, session_scope(factory) as session:
        rows = [
            {
                "filepath": e.filename,
                "error": e.stacktrace.splitlines()[0] if e.stacktrace else "",
                "timestamp": e.timestamp,
            }
            for e in import_errors.list_import_errors(session)
        ]
    emit(rows, ["filepath", "error"], output)
    if rows:
        sys.exit(1)


@dags.command("reserialize")
@click.pass_obj
def reserialize(settings: Settings) -> None:
    """Import every file of the DAG folder now, changed or not, and store what it defines (Airflow's
    ``dags reserialize``): a file whose import failed is tried again at once."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.master.scheduler.dag_processor import sync_dag_folder

    with open_metastore(settings) as factory:
        report = sync_dag_folder(factory, settings, force=True)
    click.echo(
        f"Imported {len(report.parsed)} file(s) of {settings.resolved_dags_folder}: "
        f"{len(report.dag_ids)} DAG(s), {len(report.errors)} import error(s)"
    )
    for error in report.errors.values():
        click.echo(error, err=True)


@dags.command("show")
@click.argument("dag_id")
@click.pass_obj
@short_lived
def show(settings: Settings, dag_id: str) -> None:
    """Print the DAG's graph in DOT (render it with Graphviz: `| dot -Tpng > dag.png`)."""
    from tradewind.cli.dag_graph import to_dot
    from tradewind.cli.metastore_access import metastore_session, require_parsed_dag
    from tradewind.sdk.serialization import deserialize_dag

    with metastore_session(settings) as session:
        data = require_parsed_dag(session, settings, dag_id).serialized
    click.echo(to_dot(deserialize_dag(data)))


@dags.command("details")
@click.argument("dag_id")
@OUTPUT_OPTION
@click.pass_obj
@short_lived
def details(settings: Settings, dag_id: str, output: str) -> None:
    """Show the details of a DAG as the metastore holds them (json and yaml: a list of one object)."""
    from tradewind.cli.dag_details import dag_details
    from tradewind.cli.metastore_access import metastore_session
    from tradewind.errors import DagNotFound
    from tradewind.metastore import dags as dag_rows
    from tradewind.sdk.serialization import deserialize_dag

    with metastore_session(settings) as session:
        row = dag_rows.get_dag(session, dag_id)
        if row is None:
            raise DagNotFound(f"DAG {dag_id!r} not found; see `tradewind dags list`")
        detail = dag_details(row, deserialize_dag(row.serialized) if row.serialized else None)
    if output in STRUCTURED:
        emit([detail], list(detail), output)
        return
    rows = [{"property_name": key, "property_value": value} for key, value in detail.items()]
    emit(rows, ["property_name", "property_value"], output)


@dags.command("report")
@OUTPUT_OPTION
@click.pass_obj
def report(settings: Settings, output: str) -> None:
    """Import every file of the DAG folder here and now and show, slowest first, how long each took
    and the DAGs and tasks it defined."""
    from tradewind.cli.dag_details import import_report

    rows = import_report(settings)
    emit(rows, ["file", "duration", "dag_num", "task_num", "dags"], output)
    broken = sum(1 for row in rows if row["error"])
    if broken and output not in STRUCTURED:
        click.echo(f"{broken} file(s) failed to import; see `tradewind dags list-import-errors`", err=True)


@dags.command("next-execution")
@click.argument("dag_id")
@click.option(
    "-n",
    "--num-executions",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many of the next logical dates to show.",
)
@click.pass_obj
@short_lived
def next_execution(settings: Settings, dag_id: str, num_executions: int) -> None:
    """Print the logical dates of the DAG's next scheduled runs, one a line, the one the scheduler
    creates next first ("None" past the schedule's last run)."""
    from datetime import UTC, datetime

    from tradewind.cli.metastore_access import metastore_session
    from tradewind.decisions.run_schedule import upcoming_runs
    from tradewind.metastore import dags as dag_rows
    from tradewind.metastore import scheduling

    with metastore_session(settings) as session:
        dag = dag_rows.load_dag(session, dag_id)
        row = dag_rows.get_dag(session, dag_id)
        last = scheduling.last_scheduled_interval(session, dag_id)
        taken = scheduling.logical_dates_since(session, dag_id, last[1] if last else None)
    if row is not None and row.is_paused:
        click.echo("[INFO] Please be reminded this DAG is PAUSED now.", err=True)
    upcoming = upcoming_runs(
        dag,
        catchup=dag.resolved_catchup(settings.catchup_by_default),
        last_interval=last,
        taken=taken,
        now=datetime.now(UTC),
        count=num_executions,
    )
    if None in upcoming:
        click.echo(
            "[WARN] No following schedule can be found. This DAG may have schedule interval '@once' or `None`.",
            err=True,
        )
    for info in upcoming:
        click.echo(info.logical_date.isoformat() if info is not None else "None")


@dags.command("delete")
@click.argument("dag_id")
@click.option("-y", "--yes", is_flag=True, help="Do not prompt to confirm. Use with care!")
@click.pass_obj
@short_lived
def delete(settings: Settings, dag_id: str, yes: bool) -> None:
    """Delete every record of a DAG: its runs with their task instances, tries, XComs and logs, and the
    DAG itself (the audit log stays). While its file is in the DAG folder, the DAG comes back at the
    next parse, paused and with no history. Refused while one of its task instances runs."""
    from tradewind.actions.apply import delete_dag
    from tradewind.cli.metastore_access import metastore_session
    from tradewind.errors import DagNotFound
    from tradewind.metastore import dags as dag_rows

    with metastore_session(settings) as session:
        if dag_rows.get_dag(session, dag_id) is None:
            raise DagNotFound(f"DAG {dag_id!r} not found; see `tradewind dags list`")
    if not yes and not click.confirm(
        "This will drop all existing records related to the specified DAG. Proceed?", default=False
    ):
        click.echo("Cancelled; nothing was deleted.")
        sys.exit(1)
    with metastore_session(settings) as session:
        removed = delete_dag(session, dag_id, owner="cli", source="cli")
    click.echo(f"Removed {removed} record(s)")


@dags.command("list-runs")
@click.option("-d", "--dag-id", required=True, help="The DAG whose runs to list.")
@click.option(
    "--state",
    type=click.Choice([s.value for s in DagRunState], case_sensitive=False),
    help="Only runs in this state.",
)
@click.option("--no-backfill", is_flag=True, help="Leave out backfill runs.")
@click.option("-s", "--start-date", help="Only runs with a logical date from this one on, ISO 8601.")
@click.option("-e", "--end-date", help="Only runs with a logical date up to this one (inclusive), ISO 8601.")
@OUTPUT_OPTION
@click.pass_obj
@short_lived
def list_runs(
    settings: Settings,
    dag_id: str,
    state: str | None,
    no_backfill: bool,
    start_date: str | None,
    end_date: str | None,
    output: str,
) -> None:
    """List the runs of a DAG, newest first. json and yaml give Airflow's fields (execution_date is
    the run's logical date) and tradewind's run_type and logical_date."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.errors import DagNotFound
    from tradewind.metastore import dags as dag_rows
    from tradewind.metastore import runs
    from tradewind.metastore.engine import session_scope

    since = parse_date(start_date, "start date")
    until = parse_date(end_date, "end date")
    with open_metastore(settings) as factory, session_scope(factory) as session:
        if dag_rows.get_dag(session, dag_id) is None:
            raise DagNotFound(f"DAG {dag_id!r} not found; see `tradewind dags list`")
        rows = [
            {
                "dag_id": r.dag_id,
                "run_id": r.run_id,
                "state": r.state,
                "execution_date": r.logical_date,
                "start_date": r.start_date,
                "end_date": r.end_date,
                "run_type": r.run_type,
                "logical_date": r.logical_date,
            }
            for r in runs.list_runs(
                session,
                dag_id,
                states=[state.lower()] if state else None,
                logical_date_from=since,
                logical_date_to=until,
                excluded_run_types=[DagRunType.BACKFILL_JOB] if no_backfill else (),
            )
        ]
    emit(rows, ["dag_id", "run_id", "state", "run_type", "logical_date", "start_date", "end_date"], output)


@dags.command("test")
@click.argument("dag_id")
@click.argument("logical_date", required=False)
@click.option("--conf", "-c", help="The run's conf, a JSON object (overrides the DAG's params).")
@click.option("--quiet", "-q", is_flag=True, help="Do not show the tasks' logs, only the result.")
@click.pass_obj
def test(settings: Settings, dag_id: str, logical_date: str | None, conf: str | None, quiet: bool) -> None:
    """Run one DAG run in this process and print each task's final state.

    Exits 1 when the run failed. The run is recorded in the metastore like any other.
    """
    from tradewind.cli.dag_test_runner import run_dag_in_process
    from tradewind.cli.metastore_access import load_live_dag, open_metastore

    conf_value = parse_conf(conf)
    date = parse_date(logical_date)
    with open_metastore(settings, sync=True) as factory:
        dag = load_live_dag(settings, factory, dag_id)

    def echo(line: str) -> None:
        click.echo(line, nl=False)

    result = run_dag_in_process(
        dag, logical_date=date, conf=conf_value, settings=settings, echo=None if quiet else echo
    )
    click.echo("")
    # A map_index column appears when the DAG has mapped task instances (-1: not mapped).
    columns = (
        ["task_id", "map_index", "state", "tries"]
        if any(t.map_index >= 0 for t in result.tasks)
        else ["task_id", "state", "tries"]
    )
    emit(
        [
            {"task_id": t.task_id, "map_index": t.map_index, "state": t.state, "tries": t.try_number}
            for t in result.tasks
        ],
        columns,
        "table",
    )
    click.echo(f"\nDAG run {result.run_id} of {dag_id}: {result.state} in {result.seconds:.2f} s")
    if result.state != "success":
        sys.exit(1)


@dags.command("trigger")
@click.argument("dag_id")
@click.option("--conf", "-c", help="The run's conf, a JSON object (checked against the DAG's params).")
@click.option("--run-id", "-r", help="The run id.  [default: manual__<logical date>]")
@click.option("--logical-date", "-e", "logical_date", help="The run's logical date, ISO 8601.  [default: now]")
@OUTPUT_OPTION
@click.pass_obj
@short_lived
def trigger(
    settings: Settings, dag_id: str, conf: str | None, run_id: str | None, logical_date: str | None, output: str
) -> None:
    """Create a run of a DAG now; a scheduler runs it (it waits while the DAG is paused)."""
    from tradewind.actions.apply import trigger_dag
    from tradewind.actions.wake import SchedulerWaker
    from tradewind.cli.metastore_access import metastore_session, require_parsed_dag

    conf_value = parse_conf(conf)
    date = parse_date(logical_date)
    with SchedulerWaker(settings.broker_url) as waker:
        with metastore_session(settings) as session:
            paused = require_parsed_dag(session, settings, dag_id).is_paused
            run = trigger_dag(
                session, dag_id, conf=conf_value, run_id=run_id, logical_date=date, owner="cli", source="cli"
            )
            result = {
                "dag_id": run.dag_id,
                "run_id": run.run_id,
                "logical_date": run.logical_date.isoformat(),
                "state": run.state,
            }
        waker.wake(dag_id, [result["run_id"]])
    if output in STRUCTURED:
        emit_data(result, output)
    else:
        click.echo(
            f"Created run {result['run_id']} of {dag_id} ({result['state']}, logical date {result['logical_date']})"
        )
    if paused:
        click.echo(f"DAG {dag_id} is paused: the run waits until `tradewind dags unpause {dag_id}`", err=True)


def _set_paused(settings: Settings, dag_id: str, paused: bool) -> None:
    from tradewind.actions.apply import set_paused
    from tradewind.actions.wake import SchedulerWaker
    from tradewind.cli.metastore_access import metastore_session, require_parsed_dag

    # Pausing wakes nobody: a waker with no broker does nothing.
    with SchedulerWaker(None if paused else settings.broker_url) as waker:
        with metastore_session(settings) as session:
            require_parsed_dag(session, settings, dag_id)
            set_paused(session, dag_id, paused, owner="cli", source="cli")
        waker.wake(dag_id)
    click.echo(f"Dag: {dag_id}, paused: {paused}")


@dags.command("pause")
@click.argument("dag_id")
@click.pass_obj
@short_lived
def pause(settings: Settings, dag_id: str) -> None:
    """Pause a DAG: no new runs, and its runs' tasks are not queued until it is unpaused."""
    _set_paused(settings, dag_id, True)


@dags.command("unpause")
@click.argument("dag_id")
@click.pass_obj
@short_lived
def unpause(settings: Settings, dag_id: str) -> None:
    """Unpause a DAG: the scheduler creates its due runs (all missed ones with catchup)."""
    _set_paused(settings, dag_id, False)


@dags.command("backfill")
@click.argument("dag_id")
@click.option("--start-date", "-s", required=True, help="First logical date, ISO 8601 (inclusive).")
@click.option("--end-date", "-e", required=True, help="Last logical date, ISO 8601 (inclusive).")
@click.pass_obj
@short_lived
def backfill(settings: Settings, dag_id: str, start_date: str, end_date: str) -> None:
    """Create a run for every scheduled interval whose logical date is in [START, END] and has no run
    yet; a scheduler runs them, at most max_active_runs at a time."""
    from tradewind.actions.apply import backfill_dag
    from tradewind.actions.wake import SchedulerWaker
    from tradewind.cli.metastore_access import metastore_session, require_parsed_dag

    start = parse_date(start_date, "start date")
    end = parse_date(end_date, "end date")
    assert start is not None and end is not None
    if end < start:
        raise click.BadParameter(f"the end date {end_date} is before the start date {start_date}")
    with SchedulerWaker(settings.broker_url) as waker:
        with metastore_session(settings) as session:
            require_parsed_dag(session, settings, dag_id)
            created, existing = backfill_dag(session, dag_id, start, end, owner="cli", source="cli")
            run_ids = [run.run_id for run in created]
        waker.wake(dag_id, run_ids[:1])
    note = f" ({existing} interval(s) already had a run)" if existing else ""
    click.echo(
        f"Created {len(run_ids)} backfill run(s) of {dag_id} from {start.isoformat()} to {end.isoformat()}{note}"
    )
