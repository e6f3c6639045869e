"""Mapped task groups: ``@task_group`` functions ``.expand(...)`` / ``.partial(...).expand(...)``.

The function is called once, inside a new task group, with a ``MappedArgument`` for each mapped
parameter; every task it creates becomes mapped over the group's ``ExpandInput`` (the same
map indexes for all of them). Within the group, task instance ``i`` of a task depends on task
instance ``i`` of its upstream tasks in the group only, and an XCom pulled from a task of the
same group is that task instance's own value, as in Airflow; outside the group a task pulls the
list of all values.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from tradewind.errors import DagDefinitionError
from tradewind.sdk.expand_input import DICT_OF_LISTS, LIST_OF_DICTS, ExpandInput, check_mappable, element_kwargs
from tradewind.sdk.taskgroup import TaskGroup
from tradewind.sdk.xcom_arg import ArgReference, XComArg, resolve_xcom_args

_MISSING = object()


class MappedArgument(ArgReference):
    """A parameter of a mapped task group's function: one element's value at run time."""

    def __init__(self, group: TaskGroup, expand_input: ExpandInput, name: str, default: Any = _MISSING) -> None:
        self.group = group
        self.expand_input = expand_input
        self.name = name
        self.default = default

    def resolve(self, context: Mapping[str, Any]) -> Any:
        resolved = resolve_xcom_args(self.expand_input.value, context)
        element = element_kwargs(str(self.group.group_id), self.expand_input.kind, resolved, context["ti"].map_index)
        if self.name in element:
            return element[self.name]
        if self.default is not _MISSING:
            return self.default
        raise TypeError(
            f"mapped task group {self.group.group_id!r}: element {context['ti'].map_index} has no "
            f"value for {self.name!r}"
        )

    def __repr__(self) -> str:
        return f"MappedArgument({self.group.group_id!r}, {self.name!r})"


def mapped_group_of(group: TaskGroup | None) -> TaskGroup | None:
    """The innermost mapped task group ``group`` is (or is inside), if any."""
    while group is not None:
        if getattr(group, "expand_input", None) is not None:
            return group
        group = group.parent_group
    return None


class TaskGroupPartial:
    """``my_group.partial(**fixed)``: the fixed arguments of a mapped task group's function."""

    def __init__(self, function: Callable[..., Any], group_kwargs: dict[str, Any], fixed: dict[str, Any]) -> None:
        self.function = function
        self.group_kwargs = group_kwargs
        self.fixed = fixed
        self.params = inspect.signature(function).parameters

    @property
    def _what(self) -> str:
        return f"task group {self.group_kwargs.get('group_id') or self.function.__name__!r}"

    def expand(self, **mapped: Any) -> Any:
        if not mapped:
            raise TypeError(f"{self._what}: expand() needs at least one argument to map over")
        for name, value in mapped.items():
            self._check_name(name, "expand")
            check_mappable(str(self.group_kwargs.get("group_id") or self.function.__name__), "expand", name, value)
        return self._build(ExpandInput(DICT_OF_LISTS, dict(mapped)), list(mapped))

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> Any:
        if isinstance(kwargs, XComArg):
            names = [n for n, p in self.params.items() if n not in self.fixed and p.kind not in _VARIADIC]
            return self._build(ExpandInput(LIST_OF_DICTS, kwargs), names)
        if not isinstance(kwargs, list | tuple) or not all(isinstance(e, Mapping) for e in kwargs):
            raise TypeError(f"{self._what}: expand_kwargs() takes a list of dicts or another task's output (XComArg)")
        names = sorted({name for element in kwargs for name in element})
        for name in names:
            self._check_name(name, "expand_kwargs")
        return self._build(ExpandInput(LIST_OF_DICTS, [dict(e) for e in kwargs]), names)

    def _check_name(self, name: str, method: str) -> None:
        if name not in self.params:
            raise TypeError(f"{self._what}: {method}() got an unexpected keyword argument {name!r}")
        if name in self.fixed:
            raise ValueError(f"{self._what}: argument {name!r} is given to both partial() and {method}()")

    def _build(self, expand_input: ExpandInput, names: list[str]) -> Any:
        kwargs = dict(self.group_kwargs)
        kwargs.setdefault("group_id", self.function.__name__)
        kwargs.setdefault("tooltip", (self.function.__doc__ or "").strip())
        kwargs.setdefault("add_suffix_on_collision", True)
        with TaskGroup(**kwargs) as group:
            if mapped_group_of(group.parent_group) is not None:
                raise DagDefinitionError(f"{self._what}: a mapped task group cannot be inside another one")
            group.expand_input = expand_input  # type: ignore[attr-defined]
            arguments = {name: MappedArgument(group, expand_input, name, self._default(name)) for name in names}
            result = self.function(**self.fixed, **arguments)
        tasks = group.iter_tasks()
        if not tasks:
            raise DagDefinitionError(f"{self._what}: a mapped task group needs at least one task")
        expand_json = expand_input.to_json()
        for operator in tasks:
            operator.is_mapped = True  # type: ignore[attr-defined]
            operator.expand_input_json = expand_json  # type: ignore[attr-defined]
            operator.mapped_group_id = group.group_id  # type: ignore[attr-defined]
        for arg in expand_input.xcom_args():
            for root in group.roots:
                root.set_upstream(arg.operator)
        return result if result is not None else group

    def _default(self, name: str) -> Any:
        param = self.params.get(name)
        return _MISSING if param is None or param.default is param.empty else param.default


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
