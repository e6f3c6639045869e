"""tradewind: write DAGs the Airflow way; this package exports the authoring API only."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tradewind.errors import (
    AirflowException,
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    TradewindException,
)
from tradewind.sdk import runtime_services as _runtime_services
from tradewind.version import __version__

# The authoring API is imported on first use: the CLI and the master roles import this package
# too, and should not pay for croniter, pendulum and Jinja before they need a DAG.
_LAZY: dict[str, str] = {
    "DAG": "tradewind.sdk.dag",
    "dag": "tradewind.sdk.dag",
    "task": "tradewind.sdk.decorators",
    "TaskGroup": "tradewind.sdk.taskgroup",
    "task_group": "tradewind.sdk.taskgroup",
    "BaseOperator": "tradewind.sdk.baseoperator",
    "BashOperator": "tradewind.sdk.operators.bash",
    "PythonOperator": "tradewind.sdk.operators.python",
    "BranchPythonOperator": "tradewind.sdk.operators.python",
    "ShortCircuitOperator": "tradewind.sdk.operators.python",
    "PythonVirtualenvOperator": "tradewind.sdk.operators.python_virtualenv",
    "BranchPythonVirtualenvOperator": "tradewind.sdk.operators.python_virtualenv",
    "ExternalPythonOperator": "tradewind.sdk.operators.python_virtualenv",
    "BranchExternalPythonOperator": "tradewind.sdk.operators.python_virtualenv",
    "BaseBranchOperator": "tradewind.sdk.operators.branch",
    "EmptyOperator": "tradewind.sdk.operators.empty",
    "DummyOperator": "tradewind.sdk.operators.empty",
    "BaseSensorOperator": "tradewind.sdk.sensors.base",
    "PokeReturnValue": "tradewind.sdk.sensors.base",
    "PythonSensor": "tradewind.sdk.sensors.python",
    "FileSensor": "tradewind.sdk.sensors.filesystem",
    "TimeDeltaSensor": "tradewind.sdk.sensors.time_delta",
    "TimeDeltaSensorAsync": "tradewind.sdk.sensors.time_delta",
    "DateTimeSensor": "tradewind.sdk.sensors.date_time",
    "DateTimeSensorAsync": "tradewind.sdk.sensors.date_time",
    "ExternalTaskSensor": "tradewind.sdk.sensors.external_task",
    "ExternalTaskMarker": "tradewind.sdk.sensors.external_task",
    "TriggerDagRunOperator": "tradewind.sdk.operators.trigger_dagrun",
    "LatestOnlyOperator": "tradewind.sdk.operators.latest_only",
    "TriggerRule": "tradewind.sdk.trigger_rules",
    "Param": "tradewind.sdk.params",
    "chain": "tradewind.sdk.dependencies",
    "cross_downstream": "tradewind.sdk.dependencies",
    "XComArg": "tradewind.sdk.xcom_arg",
    "get_current_context": "tradewind.sdk.context",
    "BranchDateTimeOperator": "tradewind.sdk.operators.datetime_branch",
    "BranchDayOfWeekOperator": "tradewind.sdk.operators.weekday",
    "DayOfWeekSensor": "tradewind.sdk.sensors.weekday",
    "BashSensor": "tradewind.sdk.sensors.bash",
    "WeekDay": "tradewind.sdk.weekday",
    "setup": "tradewind.sdk.setup_teardown",
    "teardown": "tradewind.sdk.setup_teardown",
}

__all__ = [
    "DAG",
    "dag",
    "task",
    "TaskGroup",
    "task_group",
    "BaseOperator",
    "BashOperator",
    "PythonOperator",
    "BranchPythonOperator",
    "ShortCircuitOperator",
    "PythonVirtualenvOperator",
    "BranchPythonVirtualenvOperator",
    "ExternalPythonOperator",
    "BranchExternalPythonOperator",
    "BaseBranchOperator",
    "EmptyOperator",
    "DummyOperator",
    "BaseSensorOperator",
    "PokeReturnValue",
    "PythonSensor",
    "FileSensor",
    "TimeDeltaSensor",
    "TimeDeltaSensorAsync",
    "DateTimeSensor",
    "DateTimeSensorAsync",
    "ExternalTaskSensor",
    "ExternalTaskMarker",
    "TriggerDagRunOperator",
    "LatestOnlyOperator",
    "TriggerRule",
    "Param",
    "chain",
    "cross_downstream",
    "XComArg",
    "get_current_context",
    "BranchDateTimeOperator",
    "BranchDayOfWeekOperator",
    "DayOfWeekSensor",
    "BashSensor",
    "WeekDay",
    "setup",
    "teardown",
    "AirflowException",
    "AirflowFailException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "TradewindException",
    "__version__",
]


def _services_from_environment() -> Any:
    from tradewind.task_services import services_from_environment

    return services_from_environment()


def _test_dag(dag: Any, logical_date: Any, conf: dict[str, Any]) -> Any:
    from tradewind.cli.dag_test_runner import run_dag_in_process

    return run_dag_in_process(dag, logical_date=logical_date, conf=conf)


# What user code reaches beyond the SDK when no tradewind process installed anything (a script
# running ``dag.test()``): wired here, where the SDK and the roles meet.
_runtime_services.set_default(_services_from_environment)
_runtime_services.set_dag_tester(_test_dag)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tradewind' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:
    from tradewind.sdk.baseoperator import BaseOperator
    from tradewind.sdk.context import get_current_context
    from tradewind.sdk.dag import DAG, dag
    from tradewind.sdk.decorators import task
    from tradewind.sdk.dependencies import chain, cross_downstream
    from tradewind.sdk.operators.bash import BashOperator
    from tradewind.sdk.operators.branch import BaseBranchOperator
    from tradewind.sdk.operators.datetime_branch import BranchDateTimeOperator
    from tradewind.sdk.operators.empty import DummyOperator, EmptyOperator
    from tradewind.sdk.operators.latest_only import LatestOnlyOperator
    from tradewind.sdk.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator
    from tradewind.sdk.operators.python_virtualenv import (
        BranchExternalPythonOperator,
        BranchPythonVirtualenvOperator,
        ExternalPythonOperator,
        PythonVirtualenvOperator,
    )
    from tradewind.sdk.operators.trigger_dagrun import TriggerDagRunOperator
    from tradewind.sdk.operators.weekday import BranchDayOfWeekOperator
    from tradewind.sdk.params import Param
    from tradewind.sdk.sensors.base import BaseSensorOperator, PokeReturnValue
    from tradewind.sdk.sensors.bash import BashSensor
    from tradewind.sdk.sensors.date_time import DateTimeSensor, DateTimeSensorAsync
    from tradewind.sdk.sensors.external_task import ExternalTaskMarker, ExternalTaskSensor
    from tradewind.sdk.sensors.filesystem import FileSensor
    from tradewind.sdk.sensors.python import PythonSensor
    from tradewind.sdk.sensors.time_delta import TimeDeltaSensor, TimeDeltaSensorAsync
    from tradewind.sdk.sensors.weekday import DayOfWeekSensor
    from tradewind.sdk.setup_teardown import setup, teardown
    from tradewind.sdk.taskgroup import TaskGroup, task_group
    from tradewind.sdk.trigger_rules import TriggerRule
    from tradewind.sdk.weekday import WeekDay
    from tradewind.sdk.xcom_arg import XComArg
