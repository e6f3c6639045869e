"""Reading where one task instance stands — its state, its run's, the DAG paused, its upstream
counts, the previous run, its delays and its pool — for the pure ``unmet_dependencies`` that says why
it is not queued (``tradewind tasks failed-deps`` and the REST API's task-instance dependencies)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tradewind.decisions.planner import upstream_counts_of
from tradewind.decisions.task_dependencies import Standing
from tradewind.decisions.task_nodes import task_nodes
from tradewind.errors import TaskNotFound
from tradewind.metastore import dags, pools, task_instances
from tradewind.metastore.models import DagRun
from tradewind.scheduling.previous_run import held_back_in
from tradewind.scheduling.run_driver import views_of


def read_standing(session: Session, dag_id: str, run: DagRun, task_id: str, map_index: int = -1) -> Standing:
    """Where task instance ``task_id`` [``map_index``] of ``run`` stands; ``DagNotFound`` or
    ``TaskNotFound`` when the DAG, the task or the task instance is not there."""
    dag = dags.load_dag(session, dag_id)
    if not dag.has_task(task_id):
        raise TaskNotFound(f"DAG {dag_id!r} has no task {task_id!r}")
    ti = task_instances.get_ti(session, dag_id, run.run_id, task_id, map_index)
    if ti is None:
        index = f" [{map_index}]" if map_index >= 0 else ""
        raise TaskNotFound(f"run {run.run_id} of {dag_id!r} has no task instance {task_id!r}{index}")
    nodes = task_nodes(dag)
    node = nodes[task_id]
    views = views_of(task_instances.get_tis(session, dag_id, run.run_id), nodes)
    held = held_back_in(session, {task_id: node.past}, run, {task_id: {ti.state}}) if node.past else {}
    usage = next((u for u in pools.pool_usage(session) if u.pool.pool == node.pool), None)
    row = dags.get_dag(session, dag_id)
    return Standing(
        dag_id=dag_id,
        state=ti.state,
        run_state=run.state,
        dag_paused=bool(row is not None and row.is_paused),
        trigger_rule=node.trigger_rule,
        upstream=upstream_counts_of(nodes, views, task_id, map_index),
        held_by_past=held.get(task_id),
        retry_at=ti.retry_at,
        next_poke_at=ti.next_poke_at,
        pool=node.pool,
        pool_slots=node.pool_slots,
        pool_open_slots=usage.free if usage is not None else None,
    )
