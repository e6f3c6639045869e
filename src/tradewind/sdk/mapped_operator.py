"""Dynamic task mapping: ``Operator.partial(...).expand(...)`` and ``@task`` ``.partial().expand()``.

A ``MappedOperator`` is one task of the DAG (one node, one row in the grid) that the scheduler
expands at run time into one task instance per element of what it is mapped over. It keeps the
arguments given to ``partial`` and the ``ExpandInput``; a worker running task instance
``map_index`` picks that element and builds the real operator from both (``unmap_for``).
Arguments are checked when the DAG file is parsed, so a mistake is an import error of the file.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from tradewind.errors import DagDefinitionError
from tradewind.sdk import dag_context
from tradewind.sdk.baseoperator import _INIT_DONE, BaseOperator
from tradewind.sdk.expand_input import (
    DICT_OF_LISTS,
    LIST_OF_DICTS,
    ExpandInput,
    check_mappable,
    element_kwargs,
    resolved_length,
)
from tradewind.sdk.xcom_arg import XComArg, resolve_xcom_args

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG
    from tradewind.sdk.decorators import TaskDecorator
    from tradewind.sdk.taskgroup import TaskGroup

#: Sensor settings the serialized task shows: from ``partial`` or the operator's default.
_SENSOR_FIELDS = ("mode", "soft_fail", "exponential_backoff", "poke_interval", "timeout")


_INIT_PARAMETERS: dict[type, dict[str, inspect.Parameter]] = {}


def _init_parameters(operator_class: type) -> dict[str, inspect.Parameter]:
    """Every keyword parameter of the ``__init__`` methods along ``operator_class``'s MRO (read once
    per class)."""
    found = _INIT_PARAMETERS.get(operator_class)
    if found is None:
        found = _INIT_PARAMETERS[operator_class] = _read_init_parameters(operator_class)
    return found


def _read_init_parameters(operator_class: type) -> dict[str, inspect.Parameter]:
    found: dict[str, inspect.Parameter] = {}
    for klass in operator_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if name != "self" and param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
                found.setdefault(name, param)
    return found


def base_parameters() -> frozenset[str]:
    """BaseOperator's own arguments: where the task sits and how it is scheduled, so not mappable."""
    return frozenset(_init_parameters(BaseOperator))


def _class_default(operator_class: type, name: str) -> Any:
    param = _init_parameters(operator_class).get(name)
    return None if param is None or param.default is param.empty else param.default


class OperatorPartial:
    """``SomeOperator.partial(task_id=..., **fixed)``: waiting for ``expand`` or ``expand_kwargs``."""

    def __init__(
        self,
        operator_class: type[BaseOperator],
        kwargs: dict[str, Any],
        dag: DAG | None,
        task_group: TaskGroup | None,
        *,
        mapped_into: str | None = None,
        callable_params: Mapping[str, inspect.Parameter] | None = None,
    ) -> None:
        self.operator_class = operator_class
        self.kwargs = kwargs
        self.dag = dag
        self.task_group = task_group
        #: Where mapped values go: None for operator arguments, "op_kwargs" for a TaskFlow function.
        self.mapped_into = mapped_into
        self.callable_params = callable_params
        self._expanded = False

    @property
    def _what(self) -> str:
        return f"task {self.kwargs['task_id']!r}"

    def expand(self, **mapped: Any) -> MappedOperator:
        if not mapped:
            raise TypeError(f"{self._what}: expand() needs at least one argument to map over")
        for name, value in mapped.items():
            self._check_name(name, "expand")
            check_mappable(self.kwargs["task_id"], "expand", name, value)
        self._check_required(set(mapped), "expand()")
        return self._create(ExpandInput(DICT_OF_LISTS, dict(mapped)))

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> MappedOperator:
        if isinstance(kwargs, XComArg):
            return self._create(ExpandInput(LIST_OF_DICTS, kwargs))
        if not isinstance(kwargs, list | tuple):
            raise TypeError(
                f"{self._what}: expand_kwargs() takes a list of dicts or another task's output (XComArg), "
                f"got a {type(kwargs).__name__}"
            )
        for index, element in enumerate(kwargs):
            if not isinstance(element, Mapping):
                raise TypeError(
                    f"{self._what}: expand_kwargs() element {index} is a {type(element).__name__}, not a dict"
                )
            for name in element:
                self._check_name(name, "expand_kwargs")
            self._check_required(set(element), f"expand_kwargs() element {index}")
        return self._create(ExpandInput(LIST_OF_DICTS, [dict(element) for element in kwargs]))

    def _check_required(self, mapped: set[str], method: str) -> None:
        """Every argument the operator requires comes from partial() or the mapping."""
        if self.callable_params is not None:
            return  # a TaskFlow call is checked against the function's signature instead
        missing = [
            name
            for name, param in _init_parameters(self.operator_class).items()
            if param.default is param.empty and name not in self.kwargs and name not in mapped
        ]
        if missing:
            raise TypeError(
                f"{self._what}: {self.operator_class.__name__} needs {', '.join(repr(n) for n in missing)}, "
                f"given neither to partial() nor to {method}"
            )

    def _check_name(self, name: str, method: str) -> None:
        if self.callable_params is not None:
            if name not in self.callable_params and not any(
                p.kind is p.VAR_KEYWORD for p in self.callable_params.values()
            ):
                raise TypeError(f"{self._what}: {method}() got an unexpected keyword argument {name!r}")
            given = self.kwargs.get(self.mapped_into or "", {})
        else:
            if name not in _init_parameters(self.operator_class):
                raise TypeError(
                    f"{self._what}: {self.operator_class.__name__}.{method}() got an unexpected keyword "
                    f"argument {name!r}"
                )
            if name in base_parameters():
                raise ValueError(
                    f"{self._what}: argument {name!r} cannot be mapped; it says how the task is scheduled "
                    "and goes to partial()"
                )
            given = self.kwargs
        if name in given:
            raise ValueError(f"{self._what}: argument {name!r} is given to both partial() and {method}()")

    def _create(self, expand_input: ExpandInput) -> MappedOperator:
        """The mapped task (Airflow returns the ``MappedOperator``; its ``.output`` is the XComArg)."""
        if self._expanded:
            raise DagDefinitionError(f"{self._what}: a partial() can be expanded only once")
        from tradewind.sdk.mapped_task_group import mapped_group_of

        if (group := mapped_group_of(self.task_group)) is not None:
            raise DagDefinitionError(
                f"{self._what}: a task inside the mapped task group {group.group_id!r} is mapped with the group; "
                "it cannot be expanded again"
            )
        self._expanded = True
        operator = MappedOperator(
            operator_class=self.operator_class,
            partial_kwargs=self.kwargs,
            expand_input=expand_input,
            mapped_into=self.mapped_into,
            dag=self.dag,
            task_group=self.task_group,
        )
        return operator


def make_partial(operator_class: type[BaseOperator], kwargs: dict[str, Any]) -> OperatorPartial:
    """``operator_class.partial(**kwargs)``: checks the names and applies ``default_args`` as the
    operator's own ``__init__`` would (the DAG's, its task groups', then ``default_args`` given here)."""
    kwargs = dict(kwargs)
    if "task_id" not in kwargs:
        raise TypeError(f"{operator_class.__name__}.partial() needs a task_id")
    dag = kwargs.pop("dag", None) or dag_context.current_dag()
    group = kwargs.pop("task_group", None) or dag_context.current_group(dag)
    defaults: dict[str, Any] = {}
    if dag is not None:
        defaults.update(dag.default_args)
    if group is not None:
        defaults.update(group.merged_default_args())
    defaults.update(kwargs.pop("default_args", None) or {})
    accepted = _init_parameters(operator_class)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"task {kwargs['task_id']!r}: {operator_class.__name__}.partial() got unexpected keyword "
            f"argument(s) {', '.join(repr(n) for n in unknown)}"
        )
    for name in accepted:
        if name not in kwargs and name in defaults and name not in ("dag", "task_group", "default_args"):
            kwargs[name] = defaults[name]
    return OperatorPartial(operator_class, kwargs, dag, group)


class TaskflowPartial:
    """``@task`` function ``.partial(**fixed)``: its fixed keyword arguments, waiting for ``expand``."""

    def __init__(self, decorator: TaskDecorator, fixed: dict[str, Any]) -> None:
        self.decorator = decorator
        self.fixed = fixed

    def expand(self, **mapped: Any) -> XComArg:
        return self._documented(self._partial(list(mapped), from_expand=True).expand(**mapped).output)

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> XComArg:
        names = [n for element in kwargs for n in element] if isinstance(kwargs, list | tuple) else []
        names = [n for n in names if isinstance(n, str)]
        return self._documented(self._partial(names, from_expand=False).expand_kwargs(kwargs, strict=strict).output)

    def _documented(self, output: XComArg) -> XComArg:
        self.decorator.mark(output.operator)
        return output

    def _partial(self, mapped_names: list[str], *, from_expand: bool) -> OperatorPartial:
        from tradewind.sdk.decorators import _check_call, get_unique_task_id

        decorator = self.decorator
        function = decorator.function
        if decorator.kwargs.get("dag") is None and dag_context.current_dag() is None:
            raise DagDefinitionError(
                f"@{decorator.decorator_name} function {function.__name__!r} was expanded outside a DAG; "
                "call .expand() inside `with DAG(...)` or a @dag function"
            )
        params = inspect.signature(function).parameters
        what = f"task {decorator.kwargs['task_id']!r}"
        if from_expand and not mapped_names:
            raise TypeError(f"{what}: expand() needs at least one argument to map over")
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for name in mapped_names:
            if name not in params and not takes_any:
                raise TypeError(f"{what}: expand() got an unexpected keyword argument {name!r}")
            if name in self.fixed:
                raise ValueError(f"{what}: argument {name!r} is given to both partial() and expand()")
        # The call must bind once the mapped values are there, as a plain call would (the keyword
        # sets of expand_kwargs are known only element by element, and checked when each runs).
        try:
            if from_expand:
                _check_call(function, [], {**self.fixed, **{name: None for name in mapped_names}})
        except TypeError as exc:
            raise TypeError(f"{what}: {exc}") from None
        kwargs = dict(decorator.kwargs)
        kwargs["task_id"] = get_unique_task_id(kwargs["task_id"], kwargs.get("dag"), kwargs.get("task_group"))
        kwargs.update(
            python_callable=function,
            op_args=[],
            op_kwargs=dict(self.fixed),
            multiple_outputs=decorator.multiple_outputs,
        )
        partial = make_partial(decorator.operator_class, kwargs)
        partial.mapped_into = "op_kwargs"
        partial.callable_params = params
        return partial


class MappedOperator(BaseOperator):
    """A task expanded at run time into one task instance per element (``map_index`` 0..n-1)."""

    is_mapped = True

    def __init__(
        self,
        *,
        operator_class: type[BaseOperator],
        partial_kwargs: dict[str, Any],
        expand_input: ExpandInput,
        mapped_into: str | None = None,
        dag: DAG | None = None,
        task_group: TaskGroup | None = None,
    ) -> None:
        self.operator_class = operator_class
        self.partial_kwargs = partial_kwargs
        self.expand_input = expand_input
        self.mapped_into = mapped_into
        # The operator class's own class-level settings, on this instance (BaseOperator's are ClassVars).
        for name, value in {
            "template_fields": tuple(operator_class.template_fields),
            "template_ext": tuple(operator_class.template_ext),
            "template_fields_renderers": dict(operator_class.template_fields_renderers),
            "is_sensor": operator_class.is_sensor,
            "ui_color": operator_class.ui_color,
            "ui_fgcolor": operator_class.ui_fgcolor,
        }.items():
            setattr(self, name, value)
        base = {k: v for k, v in partial_kwargs.items() if k in base_parameters()}
        super().__init__(dag=dag, task_group=task_group, **base)
        for name in self.template_fields:
            setattr(self, name, self._display_value(name))
        if "python_callable" in partial_kwargs:
            self.python_callable = partial_kwargs["python_callable"]
        if self.is_sensor:
            for name in _SENSOR_FIELDS:
                setattr(self, name, partial_kwargs.get(name, _class_default(operator_class, name)))
        for arg in expand_input.xcom_args():
            self.set_upstream(arg.operator)

    def _display_value(self, name: str) -> Any:
        """A template field as the DAG gave it: the mapped value where it is mapped."""
        mapped = self.expand_input.value if self.expand_input.kind == DICT_OF_LISTS else {}
        if self.mapped_into == name:
            return {**(self.partial_kwargs.get(name) or {}), **mapped}
        if self.mapped_into is None and name in mapped:
            return mapped[name]
        return self.partial_kwargs.get(name, _class_default(self.operator_class, name))

    @property
    def operator_name(self) -> str:
        return getattr(self.operator_class, "custom_operator_name", None) or self.operator_class.__name__

    @property
    def operator_module(self) -> str:
        return self.operator_class.__module__

    @property
    def expand_input_json(self) -> dict[str, Any]:
        return self.expand_input.to_json()

    def unmap_for(self, context: Mapping[str, Any]) -> BaseOperator:
        """The real operator of the task instance ``context['ti']`` (its map_index's element); a
        mutable context also gets ``expanded_ti_count``, the number of the task's instances."""
        resolved = resolve_xcom_args(self.expand_input.value, context)
        element = element_kwargs(self.task_id, self.expand_input.kind, resolved, context["ti"].map_index)
        if isinstance(context, MutableMapping):
            context["expanded_ti_count"] = resolved_length(self.expand_input.kind, resolved)
        return self.unmap(element)

    def unmap(self, element: Mapping[str, Any]) -> BaseOperator:
        """Build the operator with the ``partial`` arguments and one element's mapped arguments.

        The operator is created outside the DAG (it must not replace this task there) and then
        given this task's place: id, DAG, group and relatives.
        """
        kwargs = dict(self.partial_kwargs)
        if self.mapped_into is not None:
            kwargs[self.mapped_into] = {**(kwargs.get(self.mapped_into) or {}), **element}
        else:
            kwargs.update(element)
        kwargs["task_id"] = self.label
        operator = self.operator_class.__new__(self.operator_class)
        # A depth above zero makes the init skip its after-init step, which would add the
        # operator to the DAG through the XComArgs in its arguments.
        object.__setattr__(operator, _INIT_DONE, 1)
        try:
            operator.__init__(**kwargs)  # type: ignore[misc]
        finally:
            object.__setattr__(operator, _INIT_DONE, 0)
        operator.task_id = self.task_id
        operator.label = self.label
        operator._dag = self._dag
        operator.task_group = self.task_group
        operator.upstream_task_ids = set(self.upstream_task_ids)
        operator.downstream_task_ids = set(self.downstream_task_ids)
        return operator

    def __repr__(self) -> str:
        return f"<Mapped({self.operator_name}): {self.task_id}>"
