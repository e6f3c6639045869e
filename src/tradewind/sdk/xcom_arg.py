"""``XComArg``: a reference to a value another task will push, usable as an argument.

Passing ``task_a.output`` (or the result of calling a ``@task`` function) into another task makes
``task_a`` its upstream; when the task runs, the reference is replaced by the pulled value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tradewind.sdk.dependencies import DependencyMixin

if TYPE_CHECKING:
    from tradewind.sdk.baseoperator import BaseOperator

RETURN_VALUE_KEY = "return_value"


class ArgReference:
    """A value known only at run time (an XCom, a DAG param); ``resolve`` fetches it."""

    def resolve(self, context: Mapping[str, Any]) -> Any:
        raise NotImplementedError


class XComArg(ArgReference, DependencyMixin):
    """The XCom ``key`` pushed by ``operator``; ``arg["field"]`` picks a key of a dict result."""

    def __init__(self, operator: BaseOperator, key: str = RETURN_VALUE_KEY) -> None:
        self.operator = operator
        self.key = key

    @property
    def roots(self) -> list[BaseOperator]:
        return [self.operator]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [self.operator]

    def __getitem__(self, key: str) -> XComArg:
        # With multiple_outputs each dict key is pushed as its own XCom.
        return XComArg(self.operator, key=key)

    def resolve(self, context: Mapping[str, Any]) -> Any:
        return context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key)

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise TypeError("an XComArg is not iterable when the DAG is parsed; its value exists only at run time")

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, key={self.key!r})"

    # The operator's setup/teardown role, so ``create() >> work >> delete().as_teardown(...)`` and
    # ``with create() >> delete():`` read as they do on operators.

    @property
    def is_setup(self) -> bool:
        return bool(self.operator.is_setup)

    @is_setup.setter
    def is_setup(self, value: bool) -> None:
        self.operator.is_setup = value

    @property
    def is_teardown(self) -> bool:
        return bool(self.operator.is_teardown)

    def as_setup(self) -> XComArg:
        self.operator.as_setup()
        return self

    def as_teardown(self, *, setups: Any = None, on_failure_fail_dagrun: bool | None = None) -> XComArg:
        self.operator.as_teardown(setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)
        return self

    def __enter__(self) -> Any:
        return self.operator.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.operator.__exit__(*exc)

    def to_json(self) -> dict[str, str]:
        return {"__xcomarg__": self.operator.task_id, "key": self.key}


def find_xcom_args(value: Any) -> list[XComArg]:
    """Every XComArg inside ``value`` (lists, tuples, sets and dict values, recursively)."""
    found: list[XComArg] = []
    _walk(value, found, set())
    return found


def _walk(value: Any, found: list[XComArg], seen: set[int]) -> None:
    if isinstance(value, XComArg):
        found.append(value)
    elif isinstance(value, list | tuple | set | frozenset):
        if id(value) in seen:
            return
        seen.add(id(value))
        for item in value:
            _walk(item, found, seen)
    elif isinstance(value, dict):
        if id(value) in seen:
            return
        seen.add(id(value))
        for item in value.values():
            _walk(item, found, seen)


def resolve_xcom_args(value: Any, context: Mapping[str, Any]) -> Any:
    """A copy of ``value`` with each XComArg (or DAG param reference) replaced by its value."""
    if isinstance(value, ArgReference):
        return value.resolve(context)
    if isinstance(value, list):
        return [resolve_xcom_args(v, context) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_xcom_args(v, context) for v in value)
    if isinstance(value, set | frozenset):
        return type(value)(resolve_xcom_args(v, context) for v in value)
    if isinstance(value, dict):
        return {k: resolve_xcom_args(v, context) for k, v in value.items()}
    return value
