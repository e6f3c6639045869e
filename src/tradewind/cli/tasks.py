"""``tradewind tasks``: list a DAG's tasks, test one task, render its templates, say why it waits,
show a run's task states, clear task instances."""

from __future__ import annotations

import sys
from typing import Any

import click

from tradewind.cli.arguments import BadArgument, parse_date
from tradewind.cli.output import OUTPUT_OPTION, emit
from tradewind.cli.short_lived import short_lived
from tradewind.settings import Settings


@click.group()
def tasks() -> None:
    """Inspect, test and clear tasks; render their templates; say why one waits."""


@tasks.command("list")
@click.argument("dag_id")
@click.option("--tree", "-t", is_flag=True, help="Show each task under its upstream tasks.")
@click.pass_obj
@short_lived
def list_tasks(settings: Settings, dag_id: str, tree: bool) -> None:
    """List the task ids of a DAG, upstream tasks first (``--tree`` marks mapped tasks <Mapped(...)>)."""
    from tradewind.cli.metastore_access import metastore_session, require_parsed_dag
    from tradewind.sdk.serialization import deserialize_dag

    with metastore_session(settings) as session:
        data = require_parsed_dag(session, settings, dag_id).serialized
    dag = deserialize_dag(data)
    if not tree:
        for task in dag.topological_sort():
            click.echo(task.task_id)
        return

    def show(task_id: str, depth: int) -> None:
        task = dag.get_task(task_id)
        kind = "Mapped" if task.is_mapped else "Task"
        click.echo(f"{'    ' * depth}<{kind}({task.operator_name}): {task_id}>")
        for child in sorted(task.downstream_task_ids):
            show(child, depth + 1)

    for root in sorted(t.task_id for t in dag.roots):
        show(root, 0)


@tasks.command("test")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date", required=False)
@click.option("--task-params", help="Params for this test, a JSON object.")
@click.option(
    "--map-index",
    type=int,
    default=-1,
    show_default=True,
    help="For a mapped task: which element to run (its task instance's map index).",
)
@click.pass_obj
def test(
    settings: Settings, dag_id: str, task_id: str, logical_date: str | None, task_params: str | None, map_index: int
) -> None:
    """Run one task in this process, ignoring its dependencies; nothing is recorded.

    XCom it pulls from other tasks is empty unless they ran in the same process.
    """
    from tradewind.cli.arguments import parse_conf
    from tradewind.cli.metastore_access import load_live_dag, open_metastore
    from tradewind.cli.task_test_runner import run_task_alone

    date = parse_date(logical_date)
    conf = parse_conf(task_params)
    with open_metastore(settings, sync=True) as factory:
        dag = load_live_dag(settings, factory, dag_id)
    outcome = run_task_alone(dag, task_id, logical_date=date, conf=conf, settings=settings, map_index=map_index)
    click.echo(f"\nTask {task_id}: {outcome.state}" + (f" ({outcome.error})" if outcome.error else ""))
    if outcome.state not in ("success", "skipped"):
        sys.exit(1)


@tasks.command("states-for-dag-run")
@click.argument("dag_id")
@click.argument("execution_date_or_run_id")
@OUTPUT_OPTION
@click.pass_obj
@short_lived
def states_for_dag_run(settings: Settings, dag_id: str, execution_date_or_run_id: str, output: str) -> None:
    """Show the state of every task instance of one DAG run (a run id, or the run's logical date).
    json and yaml give Airflow's fields (execution_date is the run's logical date; state is null
    while there is none) and tradewind's run_id, logical_date, map_index, try_number and hostname."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.errors import DagRunNotFound
    from tradewind.metastore import task_instances
    from tradewind.metastore.engine import session_scope
    from tradewind.states import shown_state

    with open_metastore(settings) as factory, session_scope(factory) as session:
        run = _find_run(session, dag_id, execution_date_or_run_id)
        if run is None:
            raise DagRunNotFound(f"DAG {dag_id!r} has no run {execution_date_or_run_id!r} (a run id or a logical date)")
        rows = [
            {
                "dag_id": t.dag_id,
                "execution_date": run.logical_date,
                "task_id": t.task_id,
                "state": shown_state(t.state),
                "start_date": t.start_date,
                "end_date": t.end_date,
                "run_id": t.run_id,
                "logical_date": run.logical_date,
                "map_index": t.map_index,
                "try_number": t.try_number,
                "hostname": t.hostname,
            }
            for t in task_instances.get_tis(session, dag_id, run.run_id)
        ]
    emit(rows, ["task_id", "map_index", "state", "try_number", "start_date", "end_date"], output)


@tasks.command("clear")
@click.argument("dag_id")
@click.option("--task-regex", "-t", help="Clear the tasks whose id matches this regex (searched).  [default: all]")
@click.option("--start-date", "-s", help="Runs with a logical date from this one on, ISO 8601.")
@click.option("--end-date", "-e", help="Runs with a logical date up to this one, ISO 8601.")
@click.option("--upstream", "-u", is_flag=True, help="Also every task upstream of the chosen ones.")
@click.option("--downstream", "-d", is_flag=True, help="Also every task downstream of the chosen ones.")
@click.option("--only-failed", "-f", is_flag=True, help="Only failed and upstream_failed task instances.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@short_lived
def clear(
    settings: Settings,
    dag_id: str,
    task_regex: str | None,
    start_date: str | None,
    end_date: str | None,
    upstream: bool,
    downstream: bool,
    only_failed: bool,
    yes: bool,
) -> None:
    """Clear task instances so they run again with a fresh set of tries; their finished runs go back
    to queued. A running task instance is stopped by its worker and runs again."""
    from tradewind.actions import apply as actions
    from tradewind.actions.plan import ActionOptions
    from tradewind.actions.wake import SchedulerWaker
    from tradewind.cli.metastore_access import open_metastore, require_parsed_dag
    from tradewind.metastore.engine import session_scope

    options = ActionOptions(
        task_regex=task_regex,
        start=parse_date(start_date, "start date"),
        end=parse_date(end_date, "end date"),
        upstream=upstream,
        downstream=downstream,
        only_failed=only_failed,
    )
    with open_metastore(settings) as factory:
        with session_scope(factory) as session:
            require_parsed_dag(session, settings, dag_id)
            plan = _plan_clear(session, actions, dag_id, options, lock=False)
        if not plan.changes:
            click.echo("No task instances to clear.")
            return
        emit(
            [
                {"run_id": c.run_id, "task_id": c.task_id, "map_index": c.map_index, "state": c.from_state}
                for c in plan.changes
            ],
            ["run_id", "task_id", "map_index", "state"],
            "table",
        )
        if not yes:
            click.confirm(f"\nClear these {len(plan.changes)} task instance(s)?", abort=True)
        with SchedulerWaker(settings.broker_url) as waker:
            with session_scope(factory) as session:
                # Planned again under the runs' locks: what is cleared is what the rows hold now.
                plan = _plan_clear(session, actions, dag_id, options, lock=True)
                cleared = actions.apply(session, dag_id, plan, options, owner="cli", source="cli")
                run_ids = plan.run_ids
            waker.wake(dag_id, run_ids)
    click.echo(f"Cleared {cleared} task instance(s) in {len(run_ids)} run(s) of {dag_id}.")


def _plan_clear(session: Any, actions: Any, dag_id: str, options: Any, *, lock: bool) -> Any:
    from tradewind.metastore.dags import load_dag

    try:
        return actions.plan(session, load_dag(session, dag_id), "clear", options, lock=lock)
    except ValueError as exc:  # an invalid task regex
        raise click.BadParameter(str(exc)) from None


@tasks.command("state")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@click.option("--map-index", type=int, default=-1, show_default=True, help="The mapped task instance's index.")
@click.pass_obj
@short_lived
def state(settings: Settings, dag_id: str, task_id: str, run_id: str, map_index: int) -> None:
    """Print the state of one task instance (RUN_ID may also be the run's logical date)."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.errors import DagRunNotFound, TaskNotFound
    from tradewind.metastore import task_instances
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings) as factory, session_scope(factory) as session:
        run = _find_run(session, dag_id, run_id)
        if run is None:
            raise DagRunNotFound(f"DAG {dag_id!r} has no run {run_id!r}")
        ti = task_instances.get_ti(session, dag_id, run.run_id, task_id, map_index)
        if ti is None:
            raise TaskNotFound(
                f"run {run.run_id} of {dag_id!r} has no task instance {task_id!r}"
                + (f" [{map_index}]" if map_index >= 0 else "")
            )
        click.echo(ti.state)


def _find_run(session: Any, dag_id: str, run_id_or_date: str) -> Any:
    """The DAG's run with this run id, else the one at this logical date, else None."""
    from tradewind.metastore import runs

    run = runs.find_run(session, dag_id, run_id=run_id_or_date)
    if run is None:
        date = _as_date(run_id_or_date)
        run = runs.find_run(session, dag_id, logical_date=date) if date is not None else None
    return run


def _as_date(value: str) -> Any:
    try:
        return parse_date(value)
    except BadArgument:
        return None


@tasks.command("render")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date_or_run_id")
@click.option("--map-index", type=int, default=-1, show_default=True, help="The mapped task instance's index.")
@click.pass_obj
def render(settings: Settings, dag_id: str, task_id: str, logical_date_or_run_id: str, map_index: int) -> None:
    """Print a task instance's templated fields rendered, with its run's dates and conf (a logical
    date without a run renders as a manual run at that date). Secrets show as ***; XCom pulls render
    as None; nothing runs and nothing is recorded."""
    from tradewind.cli.metastore_access import load_live_dag, open_metastore
    from tradewind.cli.task_rendering import render_fields, stored_run
    from tradewind.cli.task_test_runner import unrecorded_run
    from tradewind.errors import DagRunNotFound, TaskNotFound
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings, sync=True) as factory:
        dag = load_live_dag(settings, factory, dag_id)
        with session_scope(factory) as session:
            row = _find_run(session, dag_id, logical_date_or_run_id)
            run = stored_run(row) if row is not None else None
    if task_id not in dag.task_dict:
        raise TaskNotFound(f"DAG {dag_id!r} has no task {task_id!r}")
    if run is None:
        date = _as_date(logical_date_or_run_id)
        if date is None:
            raise DagRunNotFound(
                f"DAG {dag_id!r} has no run {logical_date_or_run_id!r}, and it is not a logical date (ISO 8601)"
            )
        run = unrecorded_run(dag, date, conf={}, purpose="tasks_render")
    rendered = render_fields(dag, task_id, run, map_index=map_index, xcom_max_bytes=settings.xcom_max_bytes)
    for name, value in rendered.items():
        rule = "# " + "-" * 58
        click.echo(f"{rule}\n# property: {name}\n{rule}\n{value}\n")


@tasks.command("failed-deps")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date_or_run_id")
@click.option("--map-index", type=int, default=-1, show_default=True, help="The mapped task instance's index.")
@click.pass_obj
@short_lived
def failed_deps(settings: Settings, dag_id: str, task_id: str, logical_date_or_run_id: str, map_index: int) -> None:
    """Say why a task instance is not queued: each dependency the scheduler finds unmet (its state,
    its run's, the DAG paused, its trigger rule, the previous run, its retry delay, its pool)."""
    from datetime import UTC, datetime

    from tradewind.cli.metastore_access import metastore_session
    from tradewind.decisions.task_dependencies import unmet_dependencies

    with metastore_session(settings) as session:
        standing = _standing(session, dag_id, task_id, logical_date_or_run_id, map_index)
    unmet = unmet_dependencies(standing, datetime.now(UTC))
    if not unmet:
        click.echo("Task instance dependencies are all met.")
        return
    click.echo("Task instance dependencies not met:")
    for dependency in unmet:
        click.echo(f"{dependency.name}: {dependency.reason}")


def _standing(session: Any, dag_id: str, task_id: str, run_id_or_date: str, map_index: int) -> Any:
    """Read what ``unmet_dependencies`` needs of one task instance."""
    from tradewind.errors import DagRunNotFound
    from tradewind.scheduling.task_standing import read_standing

    run = _find_run(session, dag_id, run_id_or_date)
    if run is None:
        raise DagRunNotFound(f"DAG {dag_id!r} has no run {run_id_or_date!r} (a run id or a logical date)")
    return read_standing(session, dag_id, run, task_id, map_index)
