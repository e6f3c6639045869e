"""Setup and teardown tasks as DAG authors write them (Airflow 2.7+): ``as_teardown``, the
``@setup`` / ``@teardown`` decorators, and ``with setup >> teardown:`` blocks.

A teardown gets the ``all_done_setup_success`` rule and its setups as upstream tasks. Inside a
``with`` block on a setup or teardown task, the tasks created in the block are put between the
setups and the teardowns: the block's first tasks below the setups, its last ones above the
teardowns. What the scheduler makes of these roles is ``tradewind.decisions.setup_teardown``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tradewind.errors import DagDefinitionError
from tradewind.sdk.trigger_rules import TriggerRule

if TYPE_CHECKING:
    from tradewind.sdk.baseoperator import BaseOperator

__all__ = ["enter_scope", "exit_scope", "mark_teardown", "note_task", "setup", "teardown"]


def _operators(value: Any) -> list[BaseOperator]:
    """The operators behind a task, an XComArg, or a list of them."""
    from tradewind.sdk.baseoperator import BaseOperator
    from tradewind.sdk.xcom_arg import XComArg

    if isinstance(value, BaseOperator):
        return [value]
    if isinstance(value, XComArg):
        return [value.operator]
    if isinstance(value, list | tuple | set):
        return [operator for item in value for operator in _operators(item)]
    raise DagDefinitionError(f"setups must be tasks or task outputs, got {value!r}")


def mark_teardown(operator: BaseOperator, setups: Any, on_failure_fail_dagrun: bool | None) -> None:
    """``operator.as_teardown(setups=..., on_failure_fail_dagrun=...)``."""
    operator.is_teardown = True
    operator.trigger_rule = TriggerRule.ALL_DONE_SETUP_SUCCESS
    if on_failure_fail_dagrun is not None:
        operator.on_failure_fail_dagrun = on_failure_fail_dagrun
    if setups is not None:
        for setup_task in _operators(setups):
            setup_task.is_setup = True
            setup_task.set_downstream(operator)


# -- ``with setup >> teardown:`` -----------------------------------------------------------------


@dataclass
class _Scope:
    setups: list[BaseOperator]
    teardowns: list[BaseOperator]
    created: list[BaseOperator] = field(default_factory=list)


_scopes: list[_Scope] = []


def enter_scope(operator: BaseOperator) -> Any:
    """Open a block around a setup or teardown task: a teardown brings its setups (its upstream
    setup tasks), a setup its teardowns (its downstream teardown tasks)."""
    if not (operator.is_setup or operator.is_teardown):
        raise DagDefinitionError(
            f"task {operator.task_id!r}: only setup/teardown tasks can be used as context managers"
        )
    dag = operator.dag
    related = (
        [dag.get_task(t) for t in sorted(operator.upstream_task_ids | operator.downstream_task_ids)] if dag else []
    )
    if operator.is_teardown:
        scope = _Scope([t for t in related if t.is_setup and t.task_id in operator.upstream_task_ids], [operator])
    else:
        scope = _Scope([operator], [t for t in related if t.is_teardown and t.task_id in operator.downstream_task_ids])
    _scopes.append(scope)
    return operator


def note_task(task: BaseOperator) -> None:
    """A task joined a DAG: every open setup/teardown block it was created in takes it."""
    for scope in _scopes:
        scope.created.append(task)


def exit_scope() -> None:
    """Close the innermost block: its first tasks go below its setups, its last above its teardowns."""
    scope = _scopes.pop()
    own = {t.task_id for t in (*scope.setups, *scope.teardowns)}
    work = [t for t in scope.created if t.task_id not in own]
    inside = {t.task_id for t in work}
    for task in work:
        if not task.upstream_task_ids & inside:
            for setup_task in scope.setups:
                setup_task.set_downstream(task)
        if not task.downstream_task_ids & inside:
            for teardown_task in scope.teardowns:
                task.set_downstream(teardown_task)


def reset() -> None:
    """Forget open blocks (after a DAG file failed half-way)."""
    _scopes.clear()


# -- ``@setup`` / ``@teardown`` ------------------------------------------------------------------


def _as_task_decorator(function: Any, name: str) -> Any:
    from tradewind.sdk.decorators import TaskDecorator, task

    if isinstance(function, TaskDecorator):
        return function
    if getattr(function, "is_task_group_factory", False):
        raise DagDefinitionError("Task groups cannot be marked as setup or teardown.")
    if not callable(function):
        raise TypeError(f"@{name} decorates a function or a @task, got {function!r}")
    return task(function)


def setup(function: Callable[..., Any]) -> Any:
    """``@setup``: the task the function makes is a setup task (a plain function becomes ``@task``)."""
    decorated = _as_task_decorator(function, "setup")
    decorated.is_setup = True
    return decorated


def teardown(function: Callable[..., Any] | None = None, *, on_failure_fail_dagrun: bool = False) -> Any:
    """``@teardown`` / ``@teardown(on_failure_fail_dagrun=True)``: the task the function makes is a
    teardown task."""

    def wrap(inner: Callable[..., Any]) -> Any:
        decorated = _as_task_decorator(inner, "teardown")
        decorated.is_teardown = True
        decorated.on_failure_fail_dagrun = on_failure_fail_dagrun
        return decorated

    return wrap(function) if function is not None else wrap
