"""Lets DAG files written for Airflow 2 run unchanged: ``import airflow.*`` gives tradewind's classes.

``install()`` puts a meta-path finder in front of the import system that serves the module names in
``SUPPORTED_MODULES``, unless the real Airflow is installed. Each served module is created when it
is first imported and resolves its names on first use, so importing ``airflow.operators.bash`` loads
the bash operator and nothing else. Any other ``airflow.*`` name is a ``ModuleNotFoundError`` that
names the module and says tradewind does not provide it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

#: The Airflow release whose DAG-authoring API the served modules follow.
AIRFLOW_VERSION = "2.10.5"

_ORIGIN = "tradewind airflow shim"


@dataclass(frozen=True)
class _Served:
    """One served module: its public names, each as ``"tradewind.module:attribute"``."""

    exports: Mapping[str, str] = field(default_factory=dict)
    is_package: bool = False
    constants: Mapping[str, Any] = field(default_factory=dict)


def _names(module: str, *names: str, **renamed: str) -> dict[str, str]:
    """``names`` taken from ``module`` as they are; ``renamed`` maps a public name to its source."""
    refs = {name: f"{module}:{name}" for name in names}
    refs.update({public: f"{module}:{source}" for public, source in renamed.items()})
    return refs


def _merge(*parts: Mapping[str, str]) -> dict[str, str]:
    return {name: ref for part in parts for name, ref in part.items()}


_ERRORS = "tradewind.errors"
_DAG = "tradewind.sdk.dag"
_BASEOPERATOR = "tradewind.sdk.baseoperator"
_DEPENDENCIES = "tradewind.sdk.dependencies"
_PARAMS = "tradewind.sdk.params"
_RUNTIME = "tradewind.sdk.runtime"
_CONTEXT = "tradewind.sdk.context"
_OPERATORS = "tradewind.sdk.operators"
_SENSORS = "tradewind.sdk.sensors"
_TRIGGERS = "tradewind.sdk.triggers"
_DATES = "tradewind.compat.dates"
_CONNECTION = "tradewind.sdk.connection"
_VARIABLE = "tradewind.sdk.variable"

#: Airflow's exception names that tradewind raises, some under tradewind's own name.
_EXCEPTIONS = _names(
    _ERRORS,
    "AirflowException",
    "AirflowSkipException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowTaskTimeout",
    "AirflowRescheduleException",
    "DuplicateTaskIdFound",
    "ParamValidationError",
    "DagNotFound",
    "TaskNotFound",
    "DagRunNotFound",
    "DagRunAlreadyExists",
    "AirflowNotFoundException",
    "TaskDeferred",
    "TaskDeferralError",
    AirflowDagCycleException="DagCycleError",
    AirflowDagInconsistent="DagDefinitionError",
    AirflowTimetableInvalid="InvalidScheduleError",
    AirflowConfigException="ConfigurationError",
    AirflowPluginException="PluginError",
)

_PYTHON_OPERATORS = _names(f"{_OPERATORS}.python", "PythonOperator", "BranchPythonOperator", "ShortCircuitOperator")

#: The operators running a callable in another interpreter (a virtual environment, an external Python).
_VIRTUALENV_OPERATORS = _names(
    f"{_OPERATORS}.python_virtualenv",
    "PythonVirtualenvOperator",
    "BranchPythonVirtualenvOperator",
    "ExternalPythonOperator",
    "BranchExternalPythonOperator",
    "is_venv_installed",
)

#: Object storage: ObjectStoragePath over fsspec, and the file-system helpers beside it.
_IO_SERVED: dict[str, _Served] = {
    "airflow.io": _Served(_names("tradewind.sdk.object_storage", "attach", "get_fs", "has_fs"), is_package=True),
    "airflow.io.path": _Served(_names("tradewind.sdk.object_storage", "ObjectStoragePath")),
    "airflow.io.store": _Served(_names("tradewind.sdk.object_storage", "attach")),
}

_SQL_HOOKS = "tradewind.sdk.hooks"
_SQL_OPERATOR = f"{_OPERATORS}.sql"
_SQL_SENSOR = _names(f"{_SENSORS}.sql", "SqlSensor")

#: The SQL providers: hooks, SQLExecuteQueryOperator, SqlSensor and GenericTransfer under their Airflow paths.
_SQL_SERVED: dict[str, _Served] = {
    **{
        name: _Served(is_package=True)
        for name in (
            "airflow.providers",
            "airflow.providers.common",
            "airflow.providers.common.sql",
            "airflow.providers.common.sql.hooks",
            "airflow.providers.common.sql.operators",
            "airflow.providers.common.sql.sensors",
            "airflow.providers.postgres",
            "airflow.providers.postgres.hooks",
            "airflow.providers.postgres.operators",
            "airflow.providers.sqlite",
            "airflow.providers.sqlite.hooks",
            "airflow.providers.sqlite.operators",
            "airflow.providers.mysql",
            "airflow.providers.mysql.hooks",
        )
    },
    "airflow.providers.common.sql.hooks.sql": _Served(
        _names(
            f"{_SQL_HOOKS}.sql", "DbApiHook", "fetch_all_handler", "fetch_one_handler", "return_single_query_results"
        )
    ),
    "airflow.providers.common.sql.operators.sql": _Served(
        _merge(
            _names(_SQL_OPERATOR, "SQLExecuteQueryOperator", "BaseSQLOperator"),
            _names(
                f"{_OPERATORS}.sql_checks",
                "SQLCheckOperator",
                "SQLValueCheckOperator",
                "SQLIntervalCheckOperator",
                "SQLThresholdCheckOperator",
                "BranchSQLOperator",
                "SQLTableCheckOperator",
                "SQLColumnCheckOperator",
            ),
        )
    ),
    "airflow.providers.common.sql.sensors.sql": _Served(_SQL_SENSOR),
    "airflow.providers.postgres.hooks.postgres": _Served(_names(f"{_SQL_HOOKS}.postgres", "PostgresHook")),
    "airflow.providers.postgres.operators.postgres": _Served(_names(_SQL_OPERATOR, "PostgresOperator")),
    "airflow.providers.sqlite.hooks.sqlite": _Served(_names(f"{_SQL_HOOKS}.sqlite", "SqliteHook")),
    "airflow.providers.sqlite.operators.sqlite": _Served(_names(_SQL_OPERATOR, "SqliteOperator")),
    "airflow.providers.mysql.hooks.mysql": _Served(_names(f"{_SQL_HOOKS}.mysql", "MySqlHook")),
    "airflow.hooks.dbapi": _Served(_names(f"{_SQL_HOOKS}.sql", "DbApiHook")),
    "airflow.operators.generic_transfer": _Served(_names(f"{_OPERATORS}.generic_transfer", "GenericTransfer")),
    "airflow.sensors.sql": _Served(_SQL_SENSOR),
    "airflow.sensors.sql_sensor": _Served(_SQL_SENSOR),
}

_HTTP_OPERATOR = _names(f"{_OPERATORS}.http", "HttpOperator", "SimpleHttpOperator")

#: The HTTP provider: HttpHook, HttpOperator (SimpleHttpOperator) and HttpSensor.
_HTTP_SERVED: dict[str, _Served] = {
    **{
        name: _Served(is_package=True)
        for name in (
            "airflow.providers.http",
            "airflow.providers.http.hooks",
            "airflow.providers.http.operators",
            "airflow.providers.http.sensors",
        )
    },
    "airflow.providers.http.hooks.http": _Served(_names("tradewind.sdk.hooks.http", "HttpHook")),
    "airflow.providers.http.operators.http": _Served(_HTTP_OPERATOR),
    "airflow.providers.http.sensors.http": _Served(_names(f"{_SENSORS}.http", "HttpSensor")),
}

_EMAIL_OPERATOR = _names(f"{_OPERATORS}.email", "EmailOperator")

#: Email: EmailOperator under its core and smtp-provider paths, SmtpHook, send_email.
_EMAIL_SERVED: dict[str, _Served] = {
    **{
        name: _Served(is_package=True)
        for name in ("airflow.providers.smtp", "airflow.providers.smtp.hooks", "airflow.providers.smtp.operators")
    },
    "airflow.providers.smtp.hooks.smtp": _Served(_names("tradewind.sdk.hooks.smtp", "SmtpHook")),
    "airflow.providers.smtp.operators.smtp": _Served(_EMAIL_OPERATOR),
    "airflow.operators.email": _Served(_EMAIL_OPERATOR),
    "airflow.operators.email_operator": _Served(_EMAIL_OPERATOR),
    "airflow.utils.email": _Served(
        _names("tradewind.sdk.mail", "send_email", "build_mime_message", get_email_address_list="address_list")
    ),
}

_TIMETABLES = "tradewind.sdk.timetables"

#: Timetables and plugins: the Timetable API, the built-in timetables, AirflowPlugin.
_TIMETABLES_SERVED: dict[str, _Served] = {
    "airflow.timetables": _Served(is_package=True),
    "airflow.timetables.base": _Served(
        _names(f"{_TIMETABLES}.base", "Timetable", "DagRunInfo", "DataInterval", "TimeRestriction")
    ),
    "airflow.timetables.interval": _Served(
        _names(f"{_TIMETABLES}.interval", "CronDataIntervalTimetable", "DeltaDataIntervalTimetable")
    ),
    "airflow.timetables.trigger": _Served(_names(f"{_TIMETABLES}.trigger", "CronTriggerTimetable")),
    "airflow.timetables.events": _Served(_names(f"{_TIMETABLES}.events", "EventsTimetable")),
    "airflow.timetables.simple": _Served(
        _merge(
            _names(f"{_TIMETABLES}.simple", "NullTimetable", "OnceTimetable", "ContinuousTimetable"),
            _names(f"{_TIMETABLES}.datasets", "DatasetTriggeredTimetable"),
        )
    ),
    "airflow.timetables.datasets": _Served(_names(f"{_TIMETABLES}.datasets", "DatasetOrTimeSchedule")),
    "airflow.datasets": _Served(
        _names("tradewind.sdk.datasets", "Dataset", "DatasetAlias", "DatasetAll", "DatasetAny", "BaseDataset")
    ),
    "airflow.plugins_manager": _Served(_names("tradewind.sdk.plugins", "AirflowPlugin")),
}

_SERVED: dict[str, _Served] = {
    "airflow": _Served(
        _merge(_names(_DAG, "DAG"), _names(_ERRORS, "AirflowException"), _names("tradewind.sdk.datasets", "Dataset")),
        is_package=True,
        constants={"__version__": AIRFLOW_VERSION},
    ),
    "airflow.exceptions": _Served(
        _merge(
            _EXCEPTIONS,
            _names("tradewind.sdk.expand_input", "UnmappableXComTypePushed", "UnmappableXComLengthPushed"),
        )
    ),
    "airflow.models": _Served(
        _merge(
            _names(_DAG, "DAG"),
            _names(_BASEOPERATOR, "BaseOperator"),
            _names(_PARAMS, "Param"),
            _names(_RUNTIME, TaskInstance="RuntimeTaskInstance"),
            # What a task sees as ``dag_run``; enough for type hints and isinstance checks.
            _names(_CONTEXT, DagRun="DagRunView"),
            _names(_CONNECTION, "Connection"),
            _names(_VARIABLE, "Variable"),
        ),
        is_package=True,
    ),
    "airflow.configuration": _Served(_names("tradewind.sdk.airflow_conf", "conf", "AirflowConfigParser")),
    "airflow.models.connection": _Served(_names(_CONNECTION, "Connection")),
    "airflow.models.variable": _Served(_names(_VARIABLE, "Variable")),
    "airflow.hooks": _Served(is_package=True),
    "airflow.hooks.base": _Served(_names("tradewind.sdk.hooks.base", "BaseHook")),
    "airflow.secrets": _Served(_names("tradewind.secrets.backend", "BaseSecretsBackend"), is_package=True),
    "airflow.secrets.local_filesystem": _Served(_names("tradewind.secrets.local_filesystem", "LocalFilesystemBackend")),
    "airflow.models.dag": _Served(_names(_DAG, "DAG", "dag")),
    "airflow.models.dagrun": _Served(_names(_CONTEXT, DagRun="DagRunView")),
    "airflow.models.baseoperator": _Served(
        _merge(_names(_BASEOPERATOR, "BaseOperator"), _names(_DEPENDENCIES, "chain", "cross_downstream"))
    ),
    "airflow.models.param": _Served(_names(_PARAMS, "Param", "ParamsDict")),
    "airflow.models.taskinstance": _Served(_names(_RUNTIME, TaskInstance="RuntimeTaskInstance")),
    "airflow.models.xcom_arg": _Served(_names("tradewind.sdk.xcom_arg", "XComArg")),
    "airflow.models.mappedoperator": _Served(
        _names("tradewind.sdk.mapped_operator", "MappedOperator", "OperatorPartial")
    ),
    "airflow.operators": _Served(is_package=True),
    "airflow.operators.bash": _Served(_names(f"{_OPERATORS}.bash", "BashOperator")),
    "airflow.operators.bash_operator": _Served(_names(f"{_OPERATORS}.bash", "BashOperator")),
    "airflow.operators.python": _Served(
        _merge(_PYTHON_OPERATORS, _names(f"{_OPERATORS}.python", "get_current_context"), _VIRTUALENV_OPERATORS)
    ),
    "airflow.operators.python_operator": _Served(_PYTHON_OPERATORS),
    "airflow.operators.empty": _Served(_names(f"{_OPERATORS}.empty", "EmptyOperator")),
    "airflow.operators.dummy": _Served(_names(f"{_OPERATORS}.empty", "DummyOperator", "EmptyOperator")),
    "airflow.operators.dummy_operator": _Served(_names(f"{_OPERATORS}.empty", "DummyOperator")),
    "airflow.operators.trigger_dagrun": _Served(_names(f"{_OPERATORS}.trigger_dagrun", "TriggerDagRunOperator")),
    "airflow.operators.latest_only": _Served(_names(f"{_OPERATORS}.latest_only", "LatestOnlyOperator")),
    "airflow.operators.branch": _Served(_names(f"{_OPERATORS}.branch", "BaseBranchOperator")),
    "airflow.operators.datetime": _Served(
        _names(f"{_OPERATORS}.datetime_branch", "BranchDateTimeOperator", "target_times_as_dates")
    ),
    "airflow.operators.weekday": _Served(_names(f"{_OPERATORS}.weekday", "BranchDayOfWeekOperator")),
    "airflow.sensors": _Served(is_package=True),
    "airflow.sensors.bash": _Served(_names(f"{_SENSORS}.bash", "BashSensor")),
    "airflow.sensors.weekday": _Served(_names(f"{_SENSORS}.weekday", "DayOfWeekSensor")),
    "airflow.sensors.base": _Served(_names(f"{_SENSORS}.base", "BaseSensorOperator", "PokeReturnValue")),
    "airflow.sensors.python": _Served(_names(f"{_SENSORS}.python", "PythonSensor")),
    "airflow.sensors.filesystem": _Served(_names(f"{_SENSORS}.filesystem", "FileSensor")),
    "airflow.sensors.time_delta": _Served(_names(f"{_SENSORS}.time_delta", "TimeDeltaSensor", "TimeDeltaSensorAsync")),
    "airflow.triggers": _Served(is_package=True),
    "airflow.triggers.base": _Served(_names(f"{_TRIGGERS}.base", "BaseTrigger", "TriggerEvent")),
    "airflow.triggers.temporal": _Served(_names(f"{_TRIGGERS}.temporal", "DateTimeTrigger", "TimeDeltaTrigger")),
    "airflow.triggers.file": _Served(_names(f"{_TRIGGERS}.file", "FileTrigger")),
    "airflow.triggers.external_task": _Served(
        _names(f"{_TRIGGERS}.external_task", "WorkflowTrigger", "DagStateTrigger")
    ),
    "airflow.sensors.date_time": _Served(_names(f"{_SENSORS}.date_time", "DateTimeSensor", "DateTimeSensorAsync")),
    "airflow.sensors.external_task": _Served(
        _names(f"{_SENSORS}.external_task", "ExternalTaskSensor", "ExternalTaskMarker")
    ),
    "airflow.decorators": _Served(
        _merge(
            _names(_DAG, "dag"),
            _names("tradewind.sdk.decorators", "task"),
            _names("tradewind.sdk.taskgroup", "task_group"),
            _names("tradewind.sdk.setup_teardown", "setup", "teardown"),
        ),
        is_package=True,
    ),
    "airflow.decorators.setup_teardown": _Served(
        _names("tradewind.sdk.setup_teardown", setup_task="setup", teardown_task="teardown")
    ),
    "airflow.utils": _Served(is_package=True),
    "airflow.utils.task_group": _Served(_names("tradewind.sdk.taskgroup", "TaskGroup")),
    "airflow.utils.weekday": _Served(_names("tradewind.sdk.weekday", "WeekDay")),
    "airflow.utils.trigger_rule": _Served(_names("tradewind.sdk.trigger_rules", "TriggerRule")),
    "airflow.utils.dates": _Served(_names(_DATES, "days_ago", "cron_presets")),
    "airflow.utils.helpers": _Served(_names(_DEPENDENCIES, "chain", "cross_downstream")),
    "airflow.utils.state": _Served(
        _merge(
            _names("tradewind.compat.state", "State"),
            _names("tradewind.states", "TaskInstanceState", "DagRunState"),
        )
    ),
    "airflow.utils.timezone": _Served(
        _names(
            _DATES,
            "utc",
            "utcnow",
            "datetime",
            "make_aware",
            "make_naive",
            "is_localized",
            "is_naive",
            "convert_to_utc",
            "parse",
        )
    ),
    "airflow.utils.context": _Served(_names(_CONTEXT, "Context")),
    "airflow.utils.types": _Served(_names("tradewind.compat.run_types", "DagRunType")),
    "airflow.utils.edgemodifier": _Served(_names("tradewind.compat.edge_labels", "Label")),
    "airflow.utils.log": _Served(is_package=True),
    "airflow.utils.log.secrets_masker": _Served(
        _names("tradewind.secrets.masker", "mask_secret", "redact", "should_hide_value_for_key")
    ),
    **_SQL_SERVED,
    **_HTTP_SERVED,
    **_EMAIL_SERVED,
    **_TIMETABLES_SERVED,
    **_IO_SERVED,
}

#: Every ``airflow.*`` module name tradewind serves (``tradewind info`` lists them).
SUPPORTED_MODULES: tuple[str, ...] = tuple(sorted(_SERVED))


def _is_airflow_name(fullname: str) -> bool:
    return fullname == "airflow" or fullname.startswith("airflow.")


def _requested_name(fullname: str) -> str:
    """The whole name the import statement asked for, of which ``fullname`` may be a parent.

    ``import airflow.providers.amazon.aws.operators.s3`` fails at its first unknown parent,
    ``airflow.providers.amazon``; the import system's outer frames still hold the full name, and naming
    that is what tells the author which line of the DAG file to change.
    """
    requested = fullname
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_find_and_load":
            name = frame.f_locals.get("name")
            if isinstance(name, str) and name.startswith(requested + "."):
                requested = name
        frame = frame.f_back  # type: ignore[assignment]
    return requested


class AirflowShimFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads the served ``airflow.*`` modules; refuses every other ``airflow.*`` name."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not _is_airflow_name(fullname):
            return None
        served = _SERVED.get(fullname)
        if served is None:
            name = _requested_name(fullname)
            raise ModuleNotFoundError(
                f"No module named {name!r}: tradewind does not provide this Airflow module "
                "(see `tradewind info` for the supported ones)",
                name=name,
            )
        return importlib.machinery.ModuleSpec(fullname, self, origin=_ORIGIN, is_package=served.is_package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        served = _SERVED[module.__name__]
        module.__doc__ = f"Airflow's {module.__name__}, served by tradewind."
        module.__dict__.update(served.constants)
        module.__all__ = sorted(served.exports)  # type: ignore[attr-defined]
        module.__getattr__ = _lazy_getattr(module, served)  # type: ignore[method-assign]
        module.__dir__ = lambda: sorted({*module.__dict__, *served.exports})  # type: ignore[method-assign]


def _lazy_getattr(module: ModuleType, served: _Served) -> Any:
    """The module's ``__getattr__``: imports the tradewind module behind a name on first use."""

    def __getattr__(name: str) -> Any:
        ref = served.exports.get(name)
        if ref is None:
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        source, _, attribute = ref.partition(":")
        value = getattr(importlib.import_module(source), attribute)
        setattr(module, name, value)  # later lookups no longer reach __getattr__
        return value

    return __getattr__


_FINDER = AirflowShimFinder()


def is_installed() -> bool:
    """Whether ``airflow.*`` imports are currently served by tradewind."""
    return _FINDER in sys.meta_path


def _real_airflow_importable() -> bool:
    module = sys.modules.get("airflow")
    if module is not None:
        return getattr(module, "__loader__", None) is not _FINDER
    return importlib.util.find_spec("airflow") is not None


def install() -> bool:
    """Serve ``airflow.*`` from tradewind; False (and nothing done) when the real Airflow is
    importable, in which case DAG files get the real one. Calling it again changes nothing."""
    if is_installed():
        return True
    if _real_airflow_importable():
        return False
    sys.meta_path.insert(0, _FINDER)
    return True


def uninstall() -> None:
    """Remove the finder and every ``airflow.*`` module it created (for tests)."""
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    for name, module in list(sys.modules.items()):
        if _is_airflow_name(name) and getattr(module, "__loader__", None) is _FINDER:
            del sys.modules[name]
