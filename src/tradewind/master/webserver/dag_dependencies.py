"""The edges between DAGs that Airflow 2's DAG Dependencies view draws, found in the stored DAGs.

As Airflow's dependency detector: an ``ExternalTaskSensor`` (or any sensor carrying
``external_dag_id``) makes its DAG depend on the DAG it waits for ("sensor"); a
``TriggerDagRunOperator`` (any task carrying ``trigger_dag_id``) makes the DAG it triggers depend
on its own ("trigger"). A templated id is shown as written. Datasets make two edges each, through a
node named ``dataset:<uri>`` (``alias:<name>`` for an alias): from the DAG of a task that names it in
its ``outlets``, and to each DAG whose schedule waits on it ("dataset"). Pure: plain serialized DAGs
in, edges out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tradewind.sdk.datasets import decode_condition

#: How a dataset (or a dataset alias) is named where a DAG id would be.
DATASET_NODE = "dataset:"
ALIAS_NODE = "alias:"


@dataclass(frozen=True, order=True)
class DagDependency:
    """``source`` DAG → ``target`` DAG, through ``task_id`` of the DAG that holds it (empty: through
    the holder's schedule)."""

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
        for outlet in task.get("outlets") or ():
            if outlet.get("__type") == "dataset":
                found.append(DagDependency(dag_id, DATASET_NODE + outlet["uri"], "dataset", dag_id, task["task_id"]))
    return found + _scheduled_on(serialized)


def _scheduled_on(serialized: Mapping[str, Any]) -> list[DagDependency]:
    """The edges from the datasets and aliases a DAG's schedule waits on to the DAG."""
    condition_json = ((serialized.get("timetable") or {}).get("__var") or {}).get("dataset_condition")
    if not condition_json:
        return []
    dag_id = serialized["dag_id"]
    condition = decode_condition(condition_json)
    nodes = [DATASET_NODE + d.uri for d in condition.iter_datasets()]
    nodes += [ALIAS_NODE + a.name for a in condition.iter_aliases()]
    return [DagDependency(node, dag_id, "dataset", dag_id, "") for node in dict.fromkeys(nodes)]


def around(edges: Iterable[DagDependency], dag_id: str) -> list[DagDependency]:
    """The edges that touch ``dag_id``, and those of the datasets it produces or consumes (so a
    producer shows its consumers through the dataset between them)."""
    edges = list(edges)
    nodes = {dag_id}
    for edge in edges:
        if dag_id in (edge.source, edge.target) and edge.kind == "dataset":
            nodes.add(edge.target if edge.source == dag_id else edge.source)
    return [edge for edge in edges if edge.source in nodes or edge.target in nodes]


def all_dependencies(serialized_dags: Iterable[Mapping[str, Any]]) -> list[DagDependency]:
    """Every dependency between the DAGs, sorted by source and target."""
    return sorted(dep for data in serialized_dags for dep in dependencies_of(data))


def graph_json(edges: Iterable[DagDependency], known: Iterable[str], url_of: Callable[[str], str]) -> dict[str, Any]:
    """The drawing's nodes (each DAG, dataset and alias an edge names; ``url_of(node)`` for the
    loaded DAGs and every dataset and alias) and edges, one per source, target and kind, for the DAG
    Dependencies graph."""
    loaded = set(known)
    ends: dict[str, None] = {}
    drawn: dict[tuple[str, str, str], None] = {}
    for edge in edges:
        ends[edge.source] = None
        ends[edge.target] = None
        drawn[(edge.source, edge.target, edge.kind)] = None
    # A dataset or alias node is always there: its page (``url_of`` gets its node name) stands for it.
    present = [node in loaded or node.startswith((DATASET_NODE, ALIAS_NODE)) for node in ends]
    return {
        "nodes": [
            {"id": node, "url": url_of(node) if shown else None, "loaded": shown}
            for node, shown in zip(ends, present, strict=True)
        ],
        "edges": [{"source": s, "target": t, "kind": k} for s, t, k in drawn],
    }
