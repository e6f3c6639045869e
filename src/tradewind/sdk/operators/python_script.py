"""The script that runs a task's callable in another Python interpreter, and what crosses to it.

As in Airflow 2.10, the callable's source (not the function object) is written into a script with
the code that loads its arguments and writes its result: the arguments and the return value cross
the process boundary as files written by the chosen serializer (``pickle``, or ``dill`` /
``cloudpickle`` where installed). Only the context keys whose values the other interpreter can
load cross with them — never tradewind's own objects (the DAG, the task, the run), which Airflow
passes only into an interpreter that has Airflow installed; ``string_args`` reach the script as the
list ``virtualenv_string_args``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tradewind.errors import AirflowException, DagDefinitionError

__all__ = [
    "BASE_SERIALIZABLE_CONTEXT_KEYS",
    "PENDULUM_SERIALIZABLE_CONTEXT_KEYS",
    "SERIALIZERS",
    "callable_source",
    "check_serializer",
    "load_serializer",
    "render_script",
]

SERIALIZERS = ("pickle", "dill", "cloudpickle")

#: Context keys whose values are plain Python (strings, numbers, lists): they always cross.
BASE_SERIALIZABLE_CONTEXT_KEYS = frozenset(
    {
        "ds",
        "ds_nodash",
        "expanded_ti_count",
        "inlets",
        "map_index_template",
        "next_ds",
        "next_ds_nodash",
        "outlets",
        "prev_ds",
        "prev_ds_nodash",
        "run_id",
        "task_instance_key_str",
        "test_mode",
        "tomorrow_ds",
        "tomorrow_ds_nodash",
        "ts",
        "ts_nodash",
        "ts_nodash_with_tz",
        "yesterday_ds",
        "yesterday_ds_nodash",
    }
)

#: Context keys holding pendulum dates: they cross when the other interpreter has pendulum.
PENDULUM_SERIALIZABLE_CONTEXT_KEYS = frozenset(
    {
        "data_interval_end",
        "data_interval_start",
        "execution_date",
        "logical_date",
        "next_execution_date",
        "prev_data_interval_end_success",
        "prev_data_interval_start_success",
        "prev_execution_date",
        "prev_execution_date_success",
        "prev_start_date_success",
        "prev_end_date_success",
    }
)


def check_serializer(name: str) -> str:
    """``name`` when it names a serializer tradewind can use; a DAG definition error otherwise."""
    if name not in SERIALIZERS:
        expected = ", ".join(map(repr, SERIALIZERS))
        raise DagDefinitionError(f"Unsupported serializer {name!r}. Expected one of {expected}")
    return name


def load_serializer(name: str) -> ModuleType:
    """The serializer module named ``name``, importable in this process."""
    check_serializer(name)
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise AirflowException(
            f"serializer={name!r} needs the {name} package installed on the worker (pip install {name})"
        ) from err


def _is_task_decorator(node: ast.expr) -> bool:
    """``@task``, ``@task.virtualenv(...)``, ``@airflow.decorators.task.external_python`` …"""
    target = node.func if isinstance(node, ast.Call) else node
    parts: list[str] = []
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if isinstance(target, ast.Name):
        parts.append(target.id)
    return "task" in parts


def callable_source(function: Callable[..., Any]) -> str:
    """The source of ``function`` at the top level of a script, its ``@task…`` decorators removed."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as err:
        raise AirflowException(f"cannot read the source of {function!r} to run it in another interpreter") from err
    tree = ast.parse(source)
    definition = tree.body[0]
    if not isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef):
        raise AirflowException(f"{function!r} must be defined with `def` to run in another interpreter")
    kept = [f"@{ast.get_source_segment(source, d)}" for d in definition.decorator_list if not _is_task_decorator(d)]
    body = source.splitlines()[definition.lineno - 1 :]
    return "\n".join([*kept, *body]) + "\n"


_SCRIPT = """\
import {serializer}
import sys

# The task's callable, as written in the DAG file.
{source}

# Arguments in, result out: argv is the input, output, string-args and termination-message files.
with open(sys.argv[3], encoding="utf-8") as _file:
    virtualenv_string_args = [line.strip() for line in _file]
{load_arguments}
try:
    res = {name}(*arg_dict["args"], **arg_dict["kwargs"])
except Exception as _error:
    with open(sys.argv[4], "w", encoding="utf-8") as _file:
        _file.write(f"{{type(_error).__name__}}: {{_error}}")
    raise
with open(sys.argv[2], "wb") as _file:
    if res is not None:
        {serializer}.dump(res, _file)
"""


def render_script(function: Callable[..., Any], serializer: str, *, has_arguments: bool) -> str:
    """The script running ``function``; with no arguments it makes no input file to read."""
    if has_arguments:
        load = f'with open(sys.argv[1], "rb") as _file:\n    arg_dict = {serializer}.load(_file)'
    else:
        load = 'arg_dict = {"args": [], "kwargs": {}}'
    return _SCRIPT.format(
        serializer=serializer, source=callable_source(function), load_arguments=load, name=function.__name__
    )
