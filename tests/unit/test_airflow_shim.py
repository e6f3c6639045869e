"""The Airflow import shim: airflow.* names give tradewind's classes, lazily; other names fail clearly."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from tradewind.compat import airflow_shim
from tradewind.sdk import dag_context
from tradewind.sdk.dependencies import DependencyMixin


@pytest.fixture
def shim():
    """The shim installed on a clean slate; afterwards the finder is as it was before the test."""
    was_installed = airflow_shim.is_installed()
    airflow_shim.uninstall()
    assert airflow_shim.install() is True
    yield airflow_shim
    airflow_shim.uninstall()
    dag_context.reset()
    if was_installed:
        airflow_shim.install()


def _resolve(ref: str):
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("module_name", airflow_shim.SUPPORTED_MODULES)
def test_every_supported_module_imports_and_all_its_names_resolve(shim, module_name):
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{module_name}.{name}"


@pytest.mark.parametrize(
    ("airflow_ref", "tradewind_ref"),
    [
        ("airflow:DAG", "tradewind.sdk.dag:DAG"),
        ("airflow:AirflowException", "tradewind.errors:AirflowException"),
        ("airflow.models:DAG", "tradewind.sdk.dag:DAG"),
        ("airflow.models:BaseOperator", "tradewind.sdk.baseoperator:BaseOperator"),
        ("airflow.models:Param", "tradewind.sdk.params:Param"),
        ("airflow.models:TaskInstance", "tradewind.sdk.runtime:RuntimeTaskInstance"),
        ("airflow.models.dag:dag", "tradewind.sdk.dag:dag"),
        ("airflow.models.baseoperator:chain", "tradewind.sdk.dependencies:chain"),
        ("airflow.models.baseoperator:cross_downstream", "tradewind.sdk.dependencies:cross_downstream"),
        ("airflow.models.param:ParamsDict", "tradewind.sdk.params:ParamsDict"),
        ("airflow.models.taskinstance:TaskInstance", "tradewind.sdk.runtime:RuntimeTaskInstance"),
        ("airflow.models.xcom_arg:XComArg", "tradewind.sdk.xcom_arg:XComArg"),
        ("airflow.operators.bash:BashOperator", "tradewind.sdk.operators.bash:BashOperator"),
        ("airflow.operators.bash_operator:BashOperator", "tradewind.sdk.operators.bash:BashOperator"),
        ("airflow.operators.python:PythonOperator", "tradewind.sdk.operators.python:PythonOperator"),
        ("airflow.operators.python:BranchPythonOperator", "tradewind.sdk.operators.python:BranchPythonOperator"),
        ("airflow.operators.python:ShortCircuitOperator", "tradewind.sdk.operators.python:ShortCircuitOperator"),
        ("airflow.operators.python:get_current_context", "tradewind.sdk.context:get_current_context"),
        ("airflow.operators.python_operator:PythonOperator", "tradewind.sdk.operators.python:PythonOperator"),
        ("airflow.operators.empty:EmptyOperator", "tradewind.sdk.operators.empty:EmptyOperator"),
        ("airflow.operators.dummy:DummyOperator", "tradewind.sdk.operators.empty:DummyOperator"),
        ("airflow.operators.dummy_operator:DummyOperator", "tradewind.sdk.operators.empty:DummyOperator"),
        ("airflow.sensors.base:BaseSensorOperator", "tradewind.sdk.sensors.base:BaseSensorOperator"),
        ("airflow.sensors.base:PokeReturnValue", "tradewind.sdk.sensors.base:PokeReturnValue"),
        ("airflow.sensors.python:PythonSensor", "tradewind.sdk.sensors.python:PythonSensor"),
        ("airflow.sensors.filesystem:FileSensor", "tradewind.sdk.sensors.filesystem:FileSensor"),
        ("airflow.sensors.time_delta:TimeDeltaSensor", "tradewind.sdk.sensors.time_delta:TimeDeltaSensor"),
        ("airflow.sensors.date_time:DateTimeSensor", "tradewind.sdk.sensors.date_time:DateTimeSensor"),
        ("airflow.sensors.external_task:ExternalTaskSensor", "tradewind.sdk.sensors.external_task:ExternalTaskSensor"),
        ("airflow.sensors.external_task:ExternalTaskMarker", "tradewind.sdk.sensors.external_task:ExternalTaskMarker"),
        (
            "airflow.operators.trigger_dagrun:TriggerDagRunOperator",
            "tradewind.sdk.operators.trigger_dagrun:TriggerDagRunOperator",
        ),
        ("airflow.operators.latest_only:LatestOnlyOperator", "tradewind.sdk.operators.latest_only:LatestOnlyOperator"),
        ("airflow.operators.branch:BaseBranchOperator", "tradewind.sdk.operators.branch:BaseBranchOperator"),
        ("airflow.utils.context:Context", "tradewind.sdk.context:Context"),
        ("airflow.utils.types:DagRunType", "tradewind.compat.run_types:DagRunType"),
        ("airflow.decorators:dag", "tradewind.sdk.dag:dag"),
        ("airflow.decorators:task", "tradewind.sdk.decorators:task"),
        ("airflow.decorators:task_group", "tradewind.sdk.taskgroup:task_group"),
        ("airflow.utils.task_group:TaskGroup", "tradewind.sdk.taskgroup:TaskGroup"),
        ("airflow.utils.trigger_rule:TriggerRule", "tradewind.sdk.trigger_rules:TriggerRule"),
        ("airflow.utils.helpers:chain", "tradewind.sdk.dependencies:chain"),
        ("airflow.utils.state:TaskInstanceState", "tradewind.states:TaskInstanceState"),
        ("airflow.utils.state:DagRunState", "tradewind.states:DagRunState"),
        ("airflow.exceptions:AirflowSkipException", "tradewind.errors:AirflowSkipException"),
        ("airflow.exceptions:AirflowFailException", "tradewind.errors:AirflowFailException"),
        ("airflow.exceptions:AirflowSensorTimeout", "tradewind.errors:AirflowSensorTimeout"),
        ("airflow.exceptions:AirflowTaskTimeout", "tradewind.errors:AirflowTaskTimeout"),
        ("airflow.exceptions:AirflowRescheduleException", "tradewind.errors:AirflowRescheduleException"),
        ("airflow.exceptions:DuplicateTaskIdFound", "tradewind.errors:DuplicateTaskIdError"),
        ("airflow.exceptions:ParamValidationError", "tradewind.errors:ParamValidationError"),
        ("airflow.exceptions:AirflowDagCycleException", "tradewind.errors:DagCycleError"),
        ("airflow.exceptions:AirflowTimetableInvalid", "tradewind.errors:InvalidScheduleError"),
        ("airflow.exceptions:AirflowNotFoundException", "tradewind.errors:AirflowNotFoundException"),
        ("airflow.models:Connection", "tradewind.sdk.connection:Connection"),
        ("airflow.models:Variable", "tradewind.sdk.variable:Variable"),
        ("airflow.models.connection:Connection", "tradewind.sdk.connection:Connection"),
        ("airflow.models.variable:Variable", "tradewind.sdk.variable:Variable"),
        ("airflow.hooks.base:BaseHook", "tradewind.sdk.hooks.base:BaseHook"),
        ("airflow.providers.common.sql.hooks.sql:DbApiHook", "tradewind.sdk.hooks.sql:DbApiHook"),
        ("airflow.providers.common.sql.hooks.sql:fetch_all_handler", "tradewind.sdk.hooks.sql:fetch_all_handler"),
        (
            "airflow.providers.common.sql.operators.sql:SQLExecuteQueryOperator",
            "tradewind.sdk.operators.sql:SQLExecuteQueryOperator",
        ),
        ("airflow.providers.common.sql.sensors.sql:SqlSensor", "tradewind.sdk.sensors.sql:SqlSensor"),
        ("airflow.providers.postgres.hooks.postgres:PostgresHook", "tradewind.sdk.hooks.postgres:PostgresHook"),
        (
            "airflow.providers.postgres.operators.postgres:PostgresOperator",
            "tradewind.sdk.operators.sql:PostgresOperator",
        ),
        ("airflow.providers.sqlite.hooks.sqlite:SqliteHook", "tradewind.sdk.hooks.sqlite:SqliteHook"),
        ("airflow.providers.sqlite.operators.sqlite:SqliteOperator", "tradewind.sdk.operators.sql:SqliteOperator"),
        ("airflow.providers.mysql.hooks.mysql:MySqlHook", "tradewind.sdk.hooks.mysql:MySqlHook"),
        ("airflow.hooks.dbapi:DbApiHook", "tradewind.sdk.hooks.sql:DbApiHook"),
        (
            "airflow.operators.generic_transfer:GenericTransfer",
            "tradewind.sdk.operators.generic_transfer:GenericTransfer",
        ),
        ("airflow.sensors.sql:SqlSensor", "tradewind.sdk.sensors.sql:SqlSensor"),
        ("airflow.sensors.sql_sensor:SqlSensor", "tradewind.sdk.sensors.sql:SqlSensor"),
        ("airflow.utils.log.secrets_masker:mask_secret", "tradewind.secrets.masker:mask_secret"),
        ("airflow.secrets:BaseSecretsBackend", "tradewind.secrets.backend:BaseSecretsBackend"),
        (
            "airflow.secrets.local_filesystem:LocalFilesystemBackend",
            "tradewind.secrets.local_filesystem:LocalFilesystemBackend",
        ),
    ],
)
def test_airflow_name_is_the_tradewind_object(shim, airflow_ref, tradewind_ref):
    assert _resolve(airflow_ref) is _resolve(tradewind_ref)


def test_from_import_gives_tradewind_bash_operator(shim):
    from airflow.operators.bash import BashOperator

    import tradewind

    assert BashOperator is tradewind.BashOperator


def test_airflow_reports_version_2_10_5(shim):
    import airflow

    assert airflow.__version__ == "2.10.5"


def test_intermediate_packages_are_packages(shim):
    for name in ("airflow", "airflow.models", "airflow.operators", "airflow.sensors", "airflow.utils"):
        assert importlib.import_module(name).__path__ == []


def test_modules_are_created_and_filled_lazily():
    # A fresh interpreter: other tests of this run have imported every operator already.
    code = textwrap.dedent(
        """
        import sys
        from tradewind.compat import airflow_shim
        airflow_shim.install()
        import airflow.operators.bash
        assert "airflow.operators.python" not in sys.modules
        from airflow.operators.bash import BashOperator
        assert "tradewind.sdk.operators.python" not in sys.modules, "python operators imported"
        from airflow.models.param import Param
        assert "tradewind.sdk.runtime" not in sys.modules, "airflow.models resolved all its names"
        import airflow.exceptions
        assert "tradewind.sdk.sensors.base" not in sys.modules
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_unsupported_module_error_names_the_whole_module(shim):
    with pytest.raises(ModuleNotFoundError) as raised:
        import airflow.providers.amazon.aws.operators.s3  # noqa: F401
    message = str(raised.value)
    assert "'airflow.providers.amazon.aws.operators.s3'" in message
    assert "tradewind does not provide this Airflow module" in message
    assert "tradewind info" in message
    assert raised.value.name == "airflow.providers.amazon.aws.operators.s3"


def test_unsupported_module_in_from_import_names_it(shim):
    with pytest.raises(ModuleNotFoundError, match=r"'airflow\.operators\.docker_operator': tradewind"):
        from airflow.operators.docker_operator import DockerOperator  # noqa: F401


def test_unsupported_module_via_import_module_names_it(shim):
    with pytest.raises(ModuleNotFoundError, match=r"'airflow\.sensors\.smart_sensor'"):
        importlib.import_module("airflow.sensors.smart_sensor")


def test_name_a_served_module_lacks_is_an_import_error(shim):
    with pytest.raises(ImportError, match="XComArg"):
        from airflow import XComArg  # noqa: F401
    with pytest.raises(ImportError, match="DagBag"):
        from airflow.models import DagBag  # noqa: F401


def test_non_airflow_imports_are_left_alone(shim):
    assert shim._FINDER.find_spec("airflowlike") is None
    assert shim._FINDER.find_spec("json") is None


def test_install_is_idempotent(shim):
    assert airflow_shim.install() is True
    assert airflow_shim.install() is True
    assert sum(finder is airflow_shim._FINDER for finder in sys.meta_path) == 1
    assert sys.meta_path[0] is airflow_shim._FINDER


def test_uninstall_removes_the_finder_and_its_modules(shim):
    import airflow.operators.bash  # noqa: F401
    import airflow.utils.dates  # noqa: F401

    airflow_shim.uninstall()
    assert not airflow_shim.is_installed()
    assert not [name for name in sys.modules if name == "airflow" or name.startswith("airflow.")]
    with pytest.raises(ModuleNotFoundError):
        import airflow  # noqa: F401


def test_install_does_nothing_when_the_real_airflow_is_importable(monkeypatch, tmp_path):
    was_installed = airflow_shim.is_installed()
    airflow_shim.uninstall()
    package = tmp_path / "airflow"
    package.mkdir()
    (package / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert airflow_shim.install() is False
        assert not airflow_shim.is_installed()
        import airflow

        assert airflow.REAL is True
    finally:
        sys.modules.pop("airflow", None)
        monkeypatch.undo()
        importlib.invalidate_caches()
        if was_installed:
            airflow_shim.install()


AIRFLOW2_DAG_FILE = '''
"""An ETL DAG as it was written for Airflow 2."""
from datetime import timedelta

from airflow import DAG
from airflow.exceptions import AirflowSkipException
from airflow.models.baseoperator import chain
from airflow.operators.bash import BashOperator
from airflow.operators.dummy_operator import DummyOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator, PythonOperator
from airflow.utils.dates import days_ago
from airflow.utils.task_group import TaskGroup
from airflow.utils.trigger_rule import TriggerRule

default_args = {"owner": "data-team", "retries": 1, "retry_delay": timedelta(minutes=5)}


def _transform(ti, **context):
    if not ti.xcom_pull(task_ids="extract"):
        raise AirflowSkipException("nothing extracted")


with DAG(
    "legacy_etl",
    default_args=default_args,
    schedule_interval="@daily",
    start_date=days_ago(1),
    catchup=False,
    tags=["legacy"],
) as dag:
    start = DummyOperator(task_id="start")
    extract = BashOperator(task_id="extract", bash_command="echo {{ ds }}")
    transform = PythonOperator(task_id="transform", python_callable=_transform)
    with TaskGroup("report") as report:
        render = EmptyOperator(task_id="render")
        send = EmptyOperator(task_id="send")
        render >> send
    pick = BranchPythonOperator(task_id="pick", python_callable=lambda: "done")
    done = EmptyOperator(task_id="done", trigger_rule=TriggerRule.ALL_DONE)
    chain(start, [extract, transform], report, pick, done)
'''


def test_airflow2_dag_file_builds_a_tradewind_dag(shim, tmp_path):
    from tradewind.sdk.dag import DAG
    from tradewind.sdk.operators.bash import BashOperator

    path = tmp_path / "legacy_etl.py"
    path.write_text(AIRFLOW2_DAG_FILE)
    spec = importlib.util.spec_from_file_location("legacy_etl_dag_file", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    dag = module.dag
    assert isinstance(dag, DAG)
    assert dag.dag_id == "legacy_etl"
    dag.validate()
    assert sorted(dag.task_ids) == sorted(
        ["start", "extract", "transform", "report.render", "report.send", "pick", "done"]
    )
    upstream = {task.task_id: task.upstream_task_ids for task in dag.tasks}
    assert upstream == {
        "start": set(),
        "extract": {"start"},
        "transform": {"start"},
        "report.render": {"extract", "transform"},
        "report.send": {"report.render"},
        "pick": {"report.send"},
        "done": {"pick"},
    }
    extract = dag.get_task("extract")
    assert isinstance(extract, BashOperator)
    assert (extract.owner, extract.retries, extract.retry_delay) == ("data-team", 1, timedelta(minutes=5))
    assert dag.get_task("done").trigger_rule == "all_done"
    assert dag.start_date is not None and dag.start_date.utcoffset() == timedelta(0)


@pytest.mark.xfail(
    not hasattr(DependencyMixin, "update_relative"),
    reason="`a >> Label(...)` needs DependencyMixin.set_downstream/set_upstream to call "
    "update_relative(self) on the other side, as Airflow's do",
    strict=True,
)
def test_label_between_tasks_passes_the_dependency_through(shim):
    from airflow import DAG
    from airflow.operators.empty import EmptyOperator
    from airflow.utils.edgemodifier import Label

    with DAG("labelled", schedule=None) as dag:
        a, b, c = (EmptyOperator(task_id=name) for name in "abc")
        a >> Label("valid") >> b
        c << Label("invalid") << a
    assert dag.get_task("b").upstream_task_ids == {"a"}
    assert dag.get_task("c").upstream_task_ids == {"a"}


def test_label_after_a_list_passes_the_dependency_through(shim):
    from airflow import DAG
    from airflow.operators.empty import EmptyOperator
    from airflow.utils.edgemodifier import Label

    with DAG("labelled_list", schedule=None) as dag:
        a, b, c = (EmptyOperator(task_id=name) for name in "abc")
        [a, b] >> Label("both") >> c
    assert dag.get_task("c").upstream_task_ids == {"a", "b"}
    assert not dag.get_task("a").downstream_task_ids - {"c"}


def test_days_ago_is_utc_midnight_n_days_ago(shim):
    from airflow.utils.dates import cron_presets, days_ago

    expected = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    got = days_ago(3)
    assert got.utcoffset() == timedelta(0)
    assert got == expected or got == expected + timedelta(days=1)  # the test may straddle midnight
    assert days_ago(0, hour=6).hour == 6
    assert cron_presets["@daily"] == "0 0 * * *"


def test_timezone_helpers_make_aware_utc_datetimes(shim):
    from airflow.utils import timezone

    value = timezone.datetime(2024, 1, 1)
    assert timezone.is_localized(value) and value.utcoffset() == timedelta(0)
    assert timezone.utcnow().utcoffset() == timedelta(0)
    naive = datetime(2024, 1, 1, 12)
    assert timezone.make_aware(naive) == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert not timezone.is_localized(naive)
    with pytest.raises(ValueError, match="naive"):
        timezone.make_aware(value)
    assert timezone.make_naive(value) == datetime(2024, 1, 1)
    assert timezone.convert_to_utc(naive) == datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_state_constants_match_tradewind_states(shim):
    from airflow.utils.state import State, TaskInstanceState

    assert State.SUCCESS == "success" and State.UPSTREAM_FAILED == "upstream_failed"
    assert State.SUCCESS is TaskInstanceState.SUCCESS
    assert State.failed_states == {"failed", "upstream_failed"}
    assert State.success_states == {"success", "skipped"}
    assert "running" in State.unfinished


def test_dag_run_type_compares_with_the_run_types_tradewind_records(shim):
    from airflow.utils.types import DagRunType

    assert DagRunType.MANUAL == "manual" and DagRunType.SCHEDULED == "scheduled"
    assert DagRunType.BACKFILL_JOB == "backfill"
    assert DagRunType.from_run_id("scheduled__2024-01-01T00:00:00+00:00") is DagRunType.SCHEDULED
    assert DagRunType.from_run_id("my_own_run_id") is DagRunType.MANUAL
    assert DagRunType.SCHEDULED.generate_run_id(datetime(2024, 1, 1, tzinfo=UTC)) == (
        "scheduled__2024-01-01T00:00:00+00:00"
    )
