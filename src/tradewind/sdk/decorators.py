"""TaskFlow: ``@task`` and its variants turn Python functions into tasks, as in Airflow 2.

Calling a decorated function inside a DAG creates an operator whose ``op_args``/``op_kwargs`` are
the call's arguments and returns that operator's ``XComArg``; XComArgs among the arguments make
their tasks upstream. Variants: ``task.python`` (= ``task``), ``task.branch``,
``task.short_circuit``, ``task.sensor``, ``task.bash``, and the variants running the function in
another interpreter: ``task.virtualenv``, ``task.external_python`` and their ``branch_`` forms.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import typing
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tradewind.errors import AirflowException, DagDefinitionError
from tradewind.sdk import dag_context
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.context import set_current_context
from tradewind.sdk.operators.bash import BashOperator
from tradewind.sdk.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
    determine_kwargs,
)
from tradewind.sdk.operators.python_virtualenv import (
    BranchExternalPythonOperator,
    BranchPythonVirtualenvOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
)
from tradewind.sdk.params import NOTSET
from tradewind.sdk.sensors.python import PythonSensor
from tradewind.sdk.xcom_arg import XComArg

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG
    from tradewind.sdk.taskgroup import TaskGroup

__all__ = ["DecoratedOperator", "KNOWN_CONTEXT_KEYS", "get_unique_task_id", "task"]

log = logging.getLogger("tradewind.task.operators")

#: The context keys Airflow 2 lets a TaskFlow function ask for by parameter name.
KNOWN_CONTEXT_KEYS: frozenset[str] = frozenset(
    {
        "conf",
        "conn",
        "dag",
        "dag_run",
        "data_interval_end",
        "data_interval_start",
        "ds",
        "ds_nodash",
        "exception",
        "execution_date",
        "expanded_ti_count",
        "inlet_events",
        "inlets",
        "logical_date",
        "macros",
        "map_index",
        "map_index_template",
        "next_ds",
        "next_ds_nodash",
        "next_execution_date",
        "outlet_events",
        "outlets",
        "params",
        "prev_data_interval_end_success",
        "prev_data_interval_start_success",
        "prev_ds",
        "prev_ds_nodash",
        "prev_end_date_success",
        "prev_execution_date",
        "prev_execution_date_success",
        "prev_start_date_success",
        "reason",
        "run_id",
        "task",
        "task_instance",
        "task_instance_key_str",
        "templates_dict",
        "test_mode",
        "ti",
        "tomorrow_ds",
        "tomorrow_ds_nodash",
        "triggering_dataset_events",
        "try_number",
        "ts",
        "ts_nodash",
        "ts_nodash_with_tz",
        "var",
        "yesterday_ds",
        "yesterday_ds_nodash",
    }
)


def get_unique_task_id(task_id: str, dag: DAG | None = None, task_group: TaskGroup | None = None) -> str:
    """``task_id``, or ``task_id__N`` with the next free N when the DAG already has that id
    (counting the id the task group would give it) — Airflow's rule for repeated calls."""
    dag = dag or dag_context.current_dag()
    if dag is None:
        return task_id
    group = task_group or dag_context.current_group(dag)
    full_id = group.child_id(task_id) if group is not None else task_id
    if full_id not in dag.task_dict:
        return task_id
    prefix = re.escape(re.split(r"__\d+$", full_id)[0])
    suffixes = [0]
    for existing in dag.task_dict:
        match = re.match(rf"^{prefix}__(\d+)$", existing)
        if match:
            suffixes.append(int(match.group(1)))
    core = re.split(r"__\d+$", task_id)[0]
    return f"{core}__{max(suffixes) + 1}"


def _check_call(function: Callable[..., Any], op_args: list[Any], op_kwargs: dict[str, Any]) -> None:
    """Fail at parse time when the call cannot bind to the function; context-key parameters count
    as given (they are filled at run time), so they may only default to None."""
    signature = inspect.signature(function)
    var_kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = list(signature.parameters.values())
    for param in parameters:
        if (
            param.name in KNOWN_CONTEXT_KEYS
            and param.kind not in var_kinds
            and param.default is not None
            and param.default is not param.empty
        ):
            raise ValueError(f"Context key parameter {param.name} can't have a default other than None")
    filled = [
        p.replace(default=None) if p.name in KNOWN_CONTEXT_KEYS and p.kind not in var_kinds else p for p in parameters
    ]
    try:
        signature = signature.replace(parameters=filled)
    except ValueError as err:
        raise ValueError(
            f"{getattr(function, '__name__', function)}(): giving the context-key parameters a default "
            f"of None breaks the signature ({err}); put context-key parameters after the other parameters"
        ) from err
    signature.bind(*op_args, **op_kwargs)


class DecoratedOperator(BaseOperator):
    """What every ``@task`` variant's operator shares: a unique task id, a parse-time check of
    the call's arguments, and ``multiple_outputs``."""

    template_fields: ClassVar[tuple[str, ...]] = ("op_args", "op_kwargs")
    custom_operator_name: ClassVar[str] = "@task"
    #: Whether ``python_callable``/``op_args``/``op_kwargs`` go on to the operator behind this one.
    _forward_callable: ClassVar[bool] = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        task_id: str,
        op_args: Any = None,
        op_kwargs: Mapping[str, Any] | None = None,
        multiple_outputs: bool = False,
        **kwargs: Any,
    ) -> None:
        task_id = get_unique_task_id(task_id, kwargs.get("dag"), kwargs.get("task_group"))
        op_args = list(op_args or [])
        op_kwargs = dict(op_kwargs or {})
        _check_call(python_callable, op_args, op_kwargs)
        if self._forward_callable:
            kwargs.update(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs)
        else:
            self.python_callable = python_callable
            self.op_args = op_args
            self.op_kwargs = op_kwargs
        super().__init__(task_id=task_id, multiple_outputs=multiple_outputs, **kwargs)

    @property
    def operator_name(self) -> str:
        return self.custom_operator_name

    def execute(self, context: dict[str, Any]) -> Any:
        return self._handle_output(super().execute(context), context)

    def _handle_output(self, return_value: Any, context: dict[str, Any]) -> Any:
        """With ``multiple_outputs`` each key of a dict result is pushed as its own XCom (the
        runner still pushes the whole dict as ``return_value``)."""
        if not self.multiple_outputs or return_value is None:
            return return_value
        if not isinstance(return_value, dict):
            raise AirflowException(
                f"Returned output was type {type(return_value)} expected dictionary for multiple_outputs"
            )
        for key in return_value:
            if not isinstance(key, str):
                raise AirflowException(
                    "Returned dictionary keys must be strings when using multiple_outputs, "
                    f"found {key} ({type(key)}) instead"
                )
        for key, value in return_value.items():
            self.xcom_push(context, key, value)
        return return_value


class _PythonDecoratedOperator(DecoratedOperator, PythonOperator):
    template_fields: ClassVar[tuple[str, ...]] = ("templates_dict", "op_args", "op_kwargs")
    custom_operator_name: ClassVar[str] = "@task"


class _BranchDecoratedOperator(DecoratedOperator, BranchPythonOperator):
    template_fields: ClassVar[tuple[str, ...]] = ("templates_dict", "op_args", "op_kwargs")
    custom_operator_name: ClassVar[str] = "@task.branch"


class _ShortCircuitDecoratedOperator(DecoratedOperator, ShortCircuitOperator):
    template_fields: ClassVar[tuple[str, ...]] = ("templates_dict", "op_args", "op_kwargs")
    custom_operator_name: ClassVar[str] = "@task.short_circuit"


class _VirtualenvDecoratedOperator(DecoratedOperator, PythonVirtualenvOperator):
    template_fields: ClassVar[tuple[str, ...]] = tuple(PythonVirtualenvOperator.template_fields)
    custom_operator_name: ClassVar[str] = "@task.virtualenv"


class _BranchVirtualenvDecoratedOperator(DecoratedOperator, BranchPythonVirtualenvOperator):
    template_fields: ClassVar[tuple[str, ...]] = tuple(PythonVirtualenvOperator.template_fields)
    custom_operator_name: ClassVar[str] = "@task.branch_virtualenv"


class _ExternalPythonDecoratedOperator(DecoratedOperator, ExternalPythonOperator):
    template_fields: ClassVar[tuple[str, ...]] = tuple(ExternalPythonOperator.template_fields)
    custom_operator_name: ClassVar[str] = "@task.external_python"


class _BranchExternalPythonDecoratedOperator(DecoratedOperator, BranchExternalPythonOperator):
    template_fields: ClassVar[tuple[str, ...]] = tuple(ExternalPythonOperator.template_fields)
    custom_operator_name: ClassVar[str] = "@task.branch_external_python"


class _SensorDecoratedOperator(DecoratedOperator, PythonSensor):
    template_fields: ClassVar[tuple[str, ...]] = ("op_args", "op_kwargs")
    custom_operator_name: ClassVar[str] = "@task.sensor"

    def __init__(self, *, multiple_outputs: bool = False, **kwargs: Any) -> None:
        # A sensor's XCom is its PokeReturnValue's xcom_value, never split into keys.
        super().__init__(multiple_outputs=False, **kwargs)


class _BashDecoratedOperator(DecoratedOperator, BashOperator):
    """``@task.bash``: the function returns the command, which is then rendered and run."""

    template_fields: ClassVar[tuple[str, ...]] = ("op_args", "op_kwargs", "bash_command", "env", "cwd")
    custom_operator_name: ClassVar[str] = "@task.bash"
    _forward_callable: ClassVar[bool] = False

    def __init__(self, *, multiple_outputs: bool = False, **kwargs: Any) -> None:
        if multiple_outputs:
            warnings.warn("`multiple_outputs=True` is not supported in @task.bash tasks. Ignoring.", stacklevel=3)
        super().__init__(bash_command=NOTSET, multiple_outputs=False, **kwargs)

    def execute(self, context: dict[str, Any]) -> Any:
        kwargs = determine_kwargs(self.python_callable, self.op_args, self.op_kwargs, context)
        with set_current_context(context):  # type: ignore[arg-type]
            command = self.python_callable(*self.op_args, **kwargs)
        if not isinstance(command, str) or not command.strip():
            raise TypeError("The returned value from the TaskFlow callable must be a non-empty string.")
        self.bash_command = self._render_command(command, context)
        return super().execute(context)

    def _render_command(self, command: str, context: dict[str, Any]) -> str:
        # The command exists only now, after the runner rendered the other fields; Airflow renders
        # it too, so Jinja in the returned string (or a returned .sh file name) works the same.
        from tradewind.sdk.templating import make_environment, render_template

        env = make_environment(self.dag)
        return str(render_template(command, context, env, template_ext=self.template_ext))


def _infer_multiple_outputs(function: Callable[..., Any]) -> bool:
    """True when the return annotation is a mapping type (``dict``, ``Dict[str, int]`` …)."""
    if "return" not in getattr(function, "__annotations__", {}):
        return False

    # Only the return annotation is evaluated: a parameter's unresolvable annotation is no reason
    # to give up on it.
    def fake() -> None: ...

    fake.__annotations__ = {"return": function.__annotations__["return"]}
    try:
        return_type = typing.get_type_hints(fake, getattr(function, "__globals__", None)).get("return", Any)
    except Exception:
        # An annotation that cannot be evaluated says nothing about the result's shape.
        return False
    origin = getattr(return_type, "__origin__", return_type)
    return isinstance(origin, type) and issubclass(origin, Mapping)


class TaskDecorator:
    """A function decorated with ``@task`` (or a variant): call it in a DAG to add a task."""

    def __init__(
        self,
        function: Callable[..., Any],
        operator_class: type[DecoratedOperator],
        multiple_outputs: bool,
        kwargs: dict[str, Any],
        decorator_name: str,
    ) -> None:
        if "self" in inspect.signature(function).parameters:
            raise TypeError(f"@{decorator_name} does not support methods")
        functools.update_wrapper(self, function)
        self.function = function
        self.operator_class = operator_class
        self.multiple_outputs = multiple_outputs
        self.kwargs = {"task_id": function.__name__, **kwargs}
        self.decorator_name = decorator_name
        #: Set by ``@setup`` / ``@teardown``: the role of every task this function makes.
        self.is_setup = False
        self.is_teardown = False
        self.on_failure_fail_dagrun = False

    def mark(self, operator: BaseOperator) -> None:
        """Give a task this function made its setup/teardown role and the function's doc."""
        if self.is_setup:
            operator.as_setup()
        if self.is_teardown:
            operator.as_teardown(on_failure_fail_dagrun=self.on_failure_fail_dagrun)
        if self.function.__doc__ and not (operator.doc or operator.doc_md):
            operator.doc_md = self.function.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        if self.kwargs.get("dag") is None and dag_context.current_dag() is None:
            name = self.function.__name__
            raise DagDefinitionError(
                f"@{self.decorator_name} function {name!r} was called outside a DAG; call it inside "
                f"`with DAG(...)` or a @dag function (use {name}.function(...) to call the plain function)"
            )
        operator = self.operator_class(
            python_callable=self.function,
            op_args=args,
            op_kwargs=kwargs,
            multiple_outputs=self.multiple_outputs,
            **self.kwargs,
        )
        self.mark(operator)
        return operator.output

    def override(self, **kwargs: Any) -> TaskDecorator:
        """The same decorated function with some operator arguments changed."""
        multiple_outputs = kwargs.pop("multiple_outputs", self.multiple_outputs)
        changed = TaskDecorator(
            self.function,
            self.operator_class,
            multiple_outputs,
            {**self.kwargs, **kwargs},
            self.decorator_name,
        )
        changed.is_setup, changed.is_teardown = self.is_setup, self.is_teardown
        changed.on_failure_fail_dagrun = self.on_failure_fail_dagrun
        return changed

    def expand(self, **kwargs: Any) -> XComArg:
        """One task instance per element of the mapped arguments (dynamic task mapping)."""
        return self.partial().expand(**kwargs)

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> XComArg:
        return self.partial().expand_kwargs(kwargs, strict=strict)

    def partial(self, **kwargs: Any) -> Any:
        """Fix some of the function's arguments for ``.expand(...)``."""
        from tradewind.sdk.mapped_operator import TaskflowPartial

        return TaskflowPartial(self, kwargs)

    def __repr__(self) -> str:
        return f"<@{self.decorator_name} {self.function.__qualname__}>"


def _decorator(operator_class: type[DecoratedOperator], name: str, infer: bool = True) -> Callable[..., Any]:
    def decorator(
        python_callable: Callable[..., Any] | None = None,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        def wrap(function: Callable[..., Any]) -> TaskDecorator:
            if not callable(function):
                raise TypeError(f"@{name} decorates a function, got {function!r}")
            outputs = multiple_outputs
            if outputs is None:
                outputs = infer and _infer_multiple_outputs(function)
            return TaskDecorator(function, operator_class, bool(outputs), kwargs, name)

        return wrap(python_callable) if python_callable is not None else wrap

    decorator.__name__ = name.replace("@", "").replace(".", "_")
    return decorator


class TaskDecoratorCollection:
    """``task``: ``@task``, ``@task()``, ``@task(**operator_kwargs)`` and ``@task.<variant>``."""

    python = staticmethod(_decorator(_PythonDecoratedOperator, "task"))
    branch = staticmethod(_decorator(_BranchDecoratedOperator, "task.branch"))
    short_circuit = staticmethod(_decorator(_ShortCircuitDecoratedOperator, "task.short_circuit"))
    sensor = staticmethod(_decorator(_SensorDecoratedOperator, "task.sensor", infer=False))
    bash = staticmethod(_decorator(_BashDecoratedOperator, "task.bash", infer=False))
    virtualenv = staticmethod(_decorator(_VirtualenvDecoratedOperator, "task.virtualenv"))
    branch_virtualenv = staticmethod(_decorator(_BranchVirtualenvDecoratedOperator, "task.branch_virtualenv"))
    external_python = staticmethod(_decorator(_ExternalPythonDecoratedOperator, "task.external_python"))
    branch_external_python = staticmethod(
        _decorator(_BranchExternalPythonDecoratedOperator, "task.branch_external_python")
    )

    def __call__(
        self,
        python_callable: Callable[..., Any] | None = None,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        return self.python(python_callable, multiple_outputs=multiple_outputs, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"@task.{name} is not supported by tradewind; available: @task, @task.python, "
            "@task.branch, @task.short_circuit, @task.sensor, @task.bash, @task.virtualenv, "
            "@task.branch_virtualenv, @task.external_python, @task.branch_external_python"
        )


task = TaskDecoratorCollection()
