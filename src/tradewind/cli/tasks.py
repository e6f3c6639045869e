"""``tradewind tasks``: list a DAG's tasks, test one task, show a run's task states."""

from __future__ import annotations

import sys

import click

from tradewind.cli.arguments import parse_date
from tradewind.cli.output import OUTPUT_OPTION, emit
from tradewind.settings import Settings


@click.group()
def tasks() -> None:
    """Inspect and test tasks."""


@tasks.command("list")
@click.argument("dag_id")
@click.option("--tree", "-t", is_flag=True, help="Show each task under its upstream tasks.")
@click.pass_obj
def list_tasks(settings: Settings, dag_id: str, tree: bool) -> None:
    """List the task ids of a DAG, upstream tasks first."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.errors import DagNotFound
    from tradewind.metastore import dags
    from tradewind.metastore.engine import session_scope
    from tradewind.sdk.serialization import deserialize_dag

    with open_metastore(settings) as factory, session_scope(factory) as session:
        data = dags.get_serialized(session, dag_id)
    if data is None:
        raise DagNotFound(f"DAG {dag_id!r} not found in {settings.resolved_dags_folder}")
    dag = deserialize_dag(data)
    if not tree:
        for task in dag.topological_sort():
            click.echo(task.task_id)
        return

    def show(task_id: str, depth: int) -> None:
        task = dag.get_task(task_id)
        click.echo(f"{'    ' * depth}<Task({task.operator_name}): {task_id}>")
        for child in sorted(task.downstream_task_ids):
            show(child, depth + 1)

    for root in sorted(t.task_id for t in dag.roots):
        show(root, 0)


@tasks.command("test")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date", required=False)
@click.option("--task-params", help="Params for this test, a JSON object.")
@click.pass_obj
def test(settings: Settings, dag_id: str, task_id: str, logical_date: str | None, task_params: str | None) -> None:
    """Run one task in this process, ignoring its dependencies; nothing is recorded.

    XCom it pulls from other tasks is empty unless they ran in the same process.
    """
    from tradewind.cli.arguments import parse_conf
    from tradewind.cli.metastore_access import load_live_dag, open_metastore
    from tradewind.cli.task_test_runner import run_task_alone

    date = parse_date(logical_date)
    conf = parse_conf(task_params)
    with open_metastore(settings) as factory:
        dag = load_live_dag(settings, factory, dag_id)
    outcome = run_task_alone(dag, task_id, logical_date=date, conf=conf, settings=settings)
    click.echo(f"\nTask {task_id}: {outcome.state}" + (f" ({outcome.error})" if outcome.error else ""))
    if outcome.state not in ("success", "skipped"):
        sys.exit(1)


@tasks.command("states-for-dag-run")
@click.argument("dag_id")
@click.argument("run_id")
@OUTPUT_OPTION
@click.pass_obj
def states_for_dag_run(settings: Settings, dag_id: str, run_id: str, output: str) -> None:
    """Show the state of every task instance of one DAG run."""
    from tradewind.cli.metastore_access import open_metastore
    from tradewind.metastore import runs, task_instances
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings, sync=False) as factory, session_scope(factory) as session:
        run = runs.get_run(session, dag_id, run_id)
        rows = [
            {"dag_id": t.dag_id, "run_id": t.run_id, "logical_date": run.logical_date, "task_id": t.task_id,
             "map_index": t.map_index, "state": t.state, "try_number": t.try_number,
             "start_date": t.start_date, "end_date": t.end_date, "hostname": t.hostname}
            for t in task_instances.get_tis(session, dag_id, run_id)
        ]
    emit(rows, ["task_id", "map_index", "state", "try_number", "start_date", "end_date"], output)
