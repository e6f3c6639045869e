"""``PythonOperator`` and its branching cousins: run a Python callable as a task.

The callable gets ``op_args`` positionally and, by keyword, ``op_kwargs`` plus the context keys
it names (or the whole context when it takes ``**kwargs``) — Airflow 2's rule. A branch operator
skips the direct downstream tasks it does not follow; a short-circuit operator skips downstream
tasks when its callable returns something falsy.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from tradewind.errors import AirflowException, DagDefinitionError
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.context import get_current_context, set_current_context

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG

__all__ = [
    "BranchMixIn",
    "BranchPythonOperator",
    "PythonOperator",
    "ShortCircuitOperator",
    "determine_kwargs",
    "get_current_context",
]

log = logging.getLogger("tradewind.task.operators")


def determine_kwargs(
    python_callable: Callable[..., Any],
    op_args: Sequence[Any],
    op_kwargs: Mapping[str, Any],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """The keyword arguments ``python_callable`` gets (Airflow's ``KeywordParameters.determine``).

    A callable with ``**kwargs`` gets the whole context with ``op_kwargs`` over it; any other gets
    only the keys it names. A context key naming a parameter that ``op_args`` already fills is
    left out; an ``op_kwargs`` key doing the same is an error, as in Airflow.
    """
    try:
        parameters = inspect.signature(python_callable).parameters
    except (TypeError, ValueError):
        # Some builtins have no signature: give them what the DAG author passed explicitly.
        return dict(op_kwargs)
    filled_by_position: set[str] = set()
    for param in list(parameters.values())[: len(op_args)]:
        if param.kind is param.VAR_POSITIONAL:
            break
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            filled_by_position.add(param.name)
    for name in filled_by_position:
        if name in op_kwargs:
            raise ValueError(f"The key {name!r} in args is a part of kwargs and therefore reserved.")
    available = {k: v for k, v in context.items() if k not in filled_by_position}
    available.update(op_kwargs)
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return available
    return {
        name: available[name]
        for name, param in parameters.items()
        if name in available and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
    }


class PythonOperator(BaseOperator):
    """Call ``python_callable(*op_args, **kwargs)``; what it returns is the task's XCom."""

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "templates_dict": "json",
        "op_args": "py",
        "op_kwargs": "py",
    }
    ui_color: ClassVar[str] = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        show_return_value_in_logs: bool = True,
        provide_context: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task {kwargs.get('task_id')!r}: `python_callable` param must be callable, got {python_callable!r}"
            )
        if provide_context is not None:
            warnings.warn(
                "provide_context is deprecated as of Airflow 2.0 and is no longer required",
                DeprecationWarning,
                stacklevel=3,
            )
        super().__init__(**kwargs)
        self.python_callable = python_callable
        self.op_args: list[Any] = list(op_args or [])
        self.op_kwargs: dict[str, Any] = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        if templates_exts:
            self.template_ext = tuple(templates_exts)  # type: ignore[misc]
        self.show_return_value_in_logs = show_return_value_in_logs
        self._call_kwargs: dict[str, Any] = {}

    def execute(self, context: dict[str, Any]) -> Any:
        context["templates_dict"] = self.templates_dict
        self._call_kwargs = self.determine_kwargs(context)
        with set_current_context(context):  # type: ignore[arg-type]
            return_value = self.execute_callable()
        if self.show_return_value_in_logs:
            log.info("Done. Returned value was: %s", return_value)
        else:
            log.info("Done. Returned value not shown")
        return return_value

    def determine_kwargs(self, context: Mapping[str, Any]) -> dict[str, Any]:
        return determine_kwargs(self.python_callable, self.op_args, self.op_kwargs, context)

    def execute_callable(self) -> Any:
        """Call the callable with the arguments ``execute`` determined."""
        return self.python_callable(*self.op_args, **self._call_kwargs)


class BranchMixIn:
    """Follow some direct downstream tasks and skip the others (Airflow's ``BranchMixIn``)."""

    def do_branch(self, context: dict[str, Any], branches_to_execute: Any) -> Any:
        task: BaseOperator = self  # type: ignore[assignment]
        dag = task._require_dag()
        log.info("Branch into %s", branches_to_execute)
        followed = _expand_group_ids(dag, _branch_ids(branches_to_execute))
        unknown = sorted(set(followed) - set(dag.task_dict))
        if unknown:
            raise AirflowException(
                f"'branch_task_ids' must contain only valid task_ids. Invalid tasks found: {unknown}. "
                f"Valid downstream task ids of {task.task_id!r}: {sorted(task.downstream_task_ids)}"
            )
        # A followed task's own descendants are not skipped even when they are also direct
        # downstream of the branch: the "branch -> task1 -> join, branch -> join" shape.
        keep = set(followed)
        for task_id in followed:
            keep |= dag.get_task(task_id).get_flat_relative_ids(upstream=False)
        to_skip = sorted(task.downstream_task_ids - keep)
        log.info("Following branch %s; skipping %s", sorted(followed), to_skip)
        if to_skip:
            task.skip(context, to_skip)
        return branches_to_execute


def _branch_ids(branches: Any) -> list[str]:
    if branches is None:
        return []
    if isinstance(branches, str):
        return [branches]
    if not isinstance(branches, Iterable):
        raise AirflowException(
            "'branch_task_ids' must be either None, a task ID, or an Iterable of IDs, "
            f"but got {type(branches).__name__!r}."
        )
    ids = list(branches)
    wrong = [(b, type(b).__name__) for b in ids if not isinstance(b, str)]
    if wrong:
        raise AirflowException(f"'branch_task_ids' expected all task IDs are strings. Invalid tasks found: {wrong}.")
    return ids


def _expand_group_ids(dag: DAG, ids: list[str]) -> list[str]:
    """Task ids, with each task group id replaced by the ids of that group's root tasks."""
    expanded: list[str] = []
    for branch in ids:
        group = dag.task_group_dict.get(branch)
        if group is not None and branch not in dag.task_dict:
            expanded.extend(t.task_id for t in group.roots)
        else:
            expanded.append(branch)
    return expanded


class BranchPythonOperator(PythonOperator, BranchMixIn):
    """The callable returns the task id(s) (or task group ids) to follow, or None for none."""

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, super().execute(context))


class ShortCircuitOperator(PythonOperator):
    """Skip downstream tasks when the callable's result is falsy.

    With ``ignore_downstream_trigger_rules`` (the default) every task downstream, however far, is
    skipped; without it only the direct downstream tasks are, and trigger rules decide the rest.
    """

    ui_color: ClassVar[str] = "#e2e8f0"

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: dict[str, Any]) -> Any:
        condition = super().execute(context)
        log.info("Condition result is %s", condition)
        if condition:
            log.info("Proceeding with downstream tasks...")
            return condition
        if self.ignore_downstream_trigger_rules:
            to_skip = self.get_flat_relative_ids(upstream=False)
        else:
            to_skip = set(self.downstream_task_ids)
        if to_skip:
            log.info("Skipping downstream tasks %s", sorted(to_skip))
            self.skip(context, sorted(to_skip))
        return condition
