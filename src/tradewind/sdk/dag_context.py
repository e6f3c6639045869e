"""The stacks of DAGs and task groups that ``with DAG(...)`` and ``with TaskGroup(...)`` open.

Operators created inside those blocks join the innermost DAG and group. DAGs whose block closed
(or that a ``@dag`` function built) are remembered, so the DAG loader finds DAGs that a file made
without assigning them to a module-level name — as Airflow 2.4+ does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG
    from tradewind.sdk.taskgroup import TaskGroup

_dag_stack: list[DAG] = []
_group_stack: list[TaskGroup] = []
_registered: list[DAG] = []


def push_dag(dag: DAG) -> None:
    _dag_stack.append(dag)


def pop_dag() -> DAG:
    dag = _dag_stack.pop()
    register(dag)
    return dag


def current_dag() -> DAG | None:
    return _dag_stack[-1] if _dag_stack else None


def push_group(group: TaskGroup) -> None:
    _group_stack.append(group)


def pop_group() -> TaskGroup:
    return _group_stack.pop()


def current_group(dag: DAG | None) -> TaskGroup | None:
    """The innermost open group that belongs to ``dag`` (or the DAG's root group)."""
    for group in reversed(_group_stack):
        if dag is None or group.dag is dag:
            return group
    return dag.task_group if dag is not None else None


def register(dag: DAG) -> None:
    if not any(d is dag for d in _registered):
        _registered.append(dag)


def collect_registered() -> list[DAG]:
    """DAGs registered since the last call (the loader calls this around each file import)."""
    found = list(_registered)
    _registered.clear()
    return found


def reset() -> None:
    """Forget every open block and registration (after a DAG file failed half-way)."""
    from tradewind.sdk import setup_teardown

    _dag_stack.clear()
    _group_stack.clear()
    _registered.clear()
    setup_teardown.reset()
