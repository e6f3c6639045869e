"""A serialized DAG as Graphviz DOT text, with task groups as clusters (for ``dags show``)."""

from __future__ import annotations

import json
from typing import Any


def _quote(value: str) -> str:
    return json.dumps(value)


def to_dot(dag: Any) -> str:
    lines = [f"digraph {_quote(dag.dag_id)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    lines.extend(_group_lines(dag.task_group, indent="  "))
    for task in sorted(dag.tasks, key=lambda t: t.task_id):
        for downstream in sorted(task.downstream_task_ids):
            lines.append(f"  {_quote(task.task_id)} -> {_quote(downstream)};")
    lines.append("}")
    return "\n".join(lines)


def _group_lines(group: Any, indent: str) -> list[str]:
    lines: list[str] = []
    for child in group.children.values():
        if hasattr(child, "children"):
            lines.append(f"{indent}subgraph {_quote('cluster_' + (child.group_id or ''))} {{")
            lines.append(f"{indent}  label={_quote(child.label or '')};")
            lines.extend(_group_lines(child, indent + "  "))
            lines.append(f"{indent}}}")
        else:
            lines.append(f"{indent}{_quote(child.task_id)} [label={_quote(child.label or child.task_id)}];")
    return lines
