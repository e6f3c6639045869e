"""Task groups: nested, id-prefixing containers of tasks, usable on either side of ``>>``.

A group prefixes the ids of its tasks (``group.task``) unless ``prefix_group_id=False``, carries
its own ``default_args`` for the tasks inside it, and shows as one collapsible box in the UI.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tradewind.errors import DagDefinitionError
from tradewind.sdk import dag_context
from tradewind.sdk.dependencies import DependencyMixin

if TYPE_CHECKING:
    from tradewind.sdk.baseoperator import BaseOperator
    from tradewind.sdk.dag import DAG


class TaskGroup(DependencyMixin):
    """A group of tasks inside a DAG (the DAG's root group has ``group_id`` None)."""

    def __init__(
        self,
        group_id: str | None,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        default_args: dict[str, Any] | None = None,
        tooltip: str = "",
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        add_suffix_on_collision: bool = False,
    ) -> None:
        self.prefix_group_id = prefix_group_id
        self.default_args = dict(default_args or {})
        self.tooltip = tooltip
        self.ui_color = ui_color
        self.ui_fgcolor = ui_fgcolor
        self.children: dict[str, BaseOperator | TaskGroup] = {}
        self._group_id = group_id
        if group_id is None:
            # The root group of a DAG.
            self.parent_group: TaskGroup | None = None
            self.dag = dag
            return
        if not group_id or not isinstance(group_id, str):
            raise DagDefinitionError(f"a task group needs a non-empty string id, got {group_id!r}")
        dag = dag or (parent_group.dag if parent_group else None) or dag_context.current_dag()
        if dag is None:
            raise DagDefinitionError(f"task group {group_id!r} was created outside a DAG")
        parent = parent_group or dag_context.current_group(dag) or dag.task_group
        self.dag = dag
        self.parent_group = parent
        if add_suffix_on_collision:
            self._group_id = self._free_id(group_id, dag)
        parent.add_child(self)

    def _free_id(self, group_id: str, dag: DAG) -> str:
        """``group_id``, or ``group_id__N`` with the next N (1, 2, …) when the DAG has it already —
        Airflow's rule for a ``@task_group`` function called again."""
        self._group_id = group_id
        if self.group_id not in dag.task_group_dict and self.group_id not in dag.task_dict:
            return group_id
        base = re.split(r"__\d+$", group_id)[0]
        self._group_id = base
        taken = re.compile(rf"^{re.escape(self.group_id or base)}__(\d+)$")
        suffixes = [int(m.group(1)) for used in (*dag.task_group_dict, *dag.task_dict) if (m := taken.match(used))]
        return f"{base}__{max(suffixes, default=0) + 1}"

    @property
    def group_id(self) -> str | None:
        if self._group_id is None:
            return None
        parent = self.parent_group
        if parent is not None and parent.group_id is not None and parent.prefix_group_id:
            return f"{parent.group_id}.{self._group_id}"
        return self._group_id

    @property
    def label(self) -> str | None:
        return self._group_id

    @property
    def is_root(self) -> bool:
        return self._group_id is None

    def child_id(self, label: str) -> str:
        """The full id a child labelled ``label`` gets inside this group."""
        if self.prefix_group_id and self.group_id is not None:
            return f"{self.group_id}.{label}"
        # A group without prefix still passes its own parent's prefix down.
        parent = self.parent_group
        while parent is not None and not parent.is_root:
            if parent.prefix_group_id:
                return f"{parent.group_id}.{label}"
            parent = parent.parent_group
        return label

    def add_child(self, child: BaseOperator | TaskGroup) -> None:
        key = child.group_id if isinstance(child, TaskGroup) else child.task_id
        assert key is not None
        if key in self.children or (self.dag is not None and key in self.dag.task_group_dict):
            raise DagDefinitionError(f"task group id {key!r} is used twice in DAG {self.dag_id!r}")
        self.children[key] = child
        if isinstance(child, TaskGroup) and self.dag is not None:
            self.dag.task_group_dict[key] = child

    @property
    def dag_id(self) -> str | None:
        return self.dag.dag_id if self.dag is not None else None

    def merged_default_args(self) -> dict[str, Any]:
        """default_args of this group over those of its parents."""
        merged: dict[str, Any] = {}
        chain: list[TaskGroup] = []
        group: TaskGroup | None = self
        while group is not None:
            chain.append(group)
            group = group.parent_group
        for group in reversed(chain):
            merged.update(group.default_args)
        return merged

    def iter_tasks(self) -> list[BaseOperator]:
        """Every task inside this group, nested groups included."""
        tasks: list[BaseOperator] = []
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                tasks.extend(child.iter_tasks())
            else:
                tasks.append(child)
        return tasks

    @property
    def roots(self) -> list[BaseOperator]:
        inside = {t.task_id for t in self.iter_tasks()}
        return [t for t in self.iter_tasks() if not (t.upstream_task_ids & inside)]

    @property
    def leaves(self) -> list[BaseOperator]:
        """Tasks with nothing below them inside the group — teardowns left out, as Airflow does
        when a group sits on the left of ``>>``: a teardown leaf stands for the work above it."""
        tasks = {t.task_id: t for t in self.iter_tasks()}
        found: dict[str, BaseOperator] = {}

        def has_work_below(task: BaseOperator, exclude: str) -> bool:
            return any(
                down in tasks and down != exclude and not tasks[down].is_teardown for down in task.downstream_task_ids
            )

        def work_above(task: BaseOperator) -> None:
            for up_id in sorted(task.upstream_task_ids):
                up = tasks.get(up_id)
                if up is None or (task.is_teardown and up.is_setup):
                    continue
                if up.is_teardown:
                    work_above(up)
                elif not has_work_below(up, task.task_id):
                    found[up.task_id] = up

        for task in tasks.values():
            if task.downstream_task_ids & tasks.keys():
                continue
            if task.is_teardown:
                work_above(task)
            else:
                found[task.task_id] = task
        return list(found.values())

    def __enter__(self) -> TaskGroup:
        dag_context.push_group(self)
        return self

    def __exit__(self, *exc: object) -> None:
        dag_context.pop_group()

    def __repr__(self) -> str:
        return f"<TaskGroup {self.group_id!r}>"


def task_group(python_callable: Callable[..., Any] | None = None, **group_kwargs: Any) -> Any:
    """``@task_group``: calling the function builds its tasks inside a new group (the function's
    name is the group id unless ``group_id`` is given); what the function returns is what ``>>``
    attaches to, as in Airflow, falling back to the group itself."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any) -> Any:
            kwargs_for_group = dict(group_kwargs)
            kwargs_for_group.setdefault("group_id", fn.__name__)
            kwargs_for_group.setdefault("tooltip", (fn.__doc__ or "").strip())
            kwargs_for_group.setdefault("add_suffix_on_collision", True)
            with TaskGroup(**kwargs_for_group) as group:
                result = fn(*args, **kwargs)
            return result if result is not None else group

        def partial(**fixed: Any) -> Any:
            """Fix some arguments of a mapped task group's function (``.partial(...).expand(...)``)."""
            from tradewind.sdk.mapped_task_group import TaskGroupPartial

            return TaskGroupPartial(fn, dict(group_kwargs), fixed)

        build.partial = partial  # type: ignore[attr-defined]
        build.is_task_group_factory = True  # type: ignore[attr-defined]
        build.expand = lambda **mapped: partial().expand(**mapped)  # type: ignore[attr-defined]
        build.expand_kwargs = lambda kwargs, **options: partial().expand_kwargs(kwargs, **options)  # type: ignore[attr-defined]
        return build

    if python_callable is not None:
        return decorate(python_callable)
    return decorate
