"""The edges between DAGs that Airflow 2's DAG Dependencies view draws, found in the stored DAGs.

As Airflow's dependency detector: an ``ExternalTaskSensor`` (or any sensor carrying
``external_dag_id``) makes its DAG depend on the DAG it waits for ("sensor"); a
``TriggerDagRunOperator`` (any task carrying ``trigger_dag_id``) makes the DAG it triggers depend
on its own ("trigger"). A templated id is shown as written. Pure: plain serialized DAGs in, edges out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class DagDependency:
    """``source`` DAG → ``target`` DAG, through ``task_id`` of the DAG that holds it."""

    source: str
    target: str
    kind: str
    #: The DAG whose task makes the dependency, and that task.
    holder: str
    task_id: str


def dependencies_of(serialized: Mapping[str, Any]) -> list[DagDependency]:
    """The dependencies one serialized DAG's tasks make."""
    dag_id = serialized["dag_id"]
    found = []
    for task in serialized.get("tasks", ()):
        values = task.get("template_values") or {}
        external = values.get("external_dag_id")
        if task.get("is_sensor") and isinstance(external, str) and external:
            found.append(DagDependency(external, dag_id, "sensor", dag_id, task["task_id"]))
        triggered = values.get("trigger_dag_id")
        if isinstance(triggered, str) and triggered:
            found.append(DagDependency(dag_id, triggered, "trigger", dag_id, task["task_id"]))
    return found


def all_dependencies(serialized_dags: Iterable[Mapping[str, Any]]) -> list[DagDependency]:
    """Every dependency between the DAGs, sorted by source and target."""
    return sorted(dep for data in serialized_dags for dep in dependencies_of(data))
