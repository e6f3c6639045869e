"""``{{ conf }}`` and ``airflow.configuration.conf``: Airflow's configuration object answered from
tradewind's settings; and context dates that print as Airflow's do while staying datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from tradewind import DAG, BashOperator
from tradewind.errors import ConfigurationError
from tradewind.sdk.airflow_conf import AirflowConfigParser
from tradewind.sdk.context import RunInfo, build_context
from tradewind.sdk.templating import render_task_fields
from tradewind.settings import Settings


def _conf(environ: dict[str, str] | None = None, **settings: str) -> AirflowConfigParser:
    values = Settings.from_env({f"TRADEWIND_{k.upper()}": v for k, v in settings.items()})
    return AirflowConfigParser(lambda: values, environ=environ or {})


def test_airflow_options_are_answered_from_tradewinds_settings() -> None:
    conf = _conf(dags_folder="/srv/dags", parallelism="64", catchup_by_default="true")
    assert conf.get("core", "dags_folder") == str(Path("/srv/dags"))
    assert conf.getint("core", "parallelism") == 64
    assert conf.getboolean("scheduler", "catchup_by_default") is True
    assert conf.get("CORE", "Executor") == "CeleryExecutor"


def test_an_airflow_environment_variable_wins_as_in_airflow() -> None:
    conf = _conf({"AIRFLOW__CORE__PARALLELISM": "7"}, parallelism="64")
    assert conf.getint("core", "parallelism") == 7


def test_an_unknown_option_gives_the_fallback_or_a_clear_error() -> None:
    conf = _conf()
    assert conf.get("core", "no_such_option", fallback="x") == "x"
    assert conf.get("core", "no_such_option", fallback=None) is None
    assert not conf.has_option("core", "no_such_option")
    with pytest.raises(ConfigurationError, match=r"section/key \[core/no_such_option\] not found in config"):
        conf.get("core", "no_such_option")


def test_secrets_are_never_handed_out() -> None:
    conf = _conf(database_url="postgresql://u:pw@db/tw", fernet_key="k" * 44)
    assert conf.get("database", "sql_alchemy_conn", fallback="hidden") == "hidden"
    assert conf.get("core", "fernet_key", fallback="hidden") == "hidden"
    assert conf.get("core", "database_url", fallback="hidden") == "hidden"


def test_a_value_that_is_not_a_number_says_which_option() -> None:
    with pytest.raises(ConfigurationError, match='"executor" key in "core" section'):
        _conf().getint("core", "executor")


def _rendered(command: str) -> str:
    logical = datetime(2024, 1, 1, tzinfo=UTC)
    with DAG("renders", schedule=None, start_date=logical) as dag:
        task = BashOperator(task_id="show", bash_command=command)
    run = RunInfo(
        dag_id="renders", run_id="manual__1", run_type="manual", logical_date=logical, conf={"table": "orders"}
    )
    context = build_context(
        dag=dag, task=task, run=run, ti=SimpleNamespace(try_number=1, map_index=-1), params={"table": "orders"}
    )
    render_task_fields(task, context)
    return str(task.bash_command)


def test_templates_see_the_configuration_as_conf_and_the_runs_conf_as_dag_run_conf() -> None:
    assert _rendered("{{ conf.get('core', 'executor') }} {{ dag_run.conf['table'] }} {{ params.table }}") == (
        "CeleryExecutor orders orders"
    )


def test_context_dates_print_as_airflows_and_stay_datetimes() -> None:
    assert _rendered("{{ logical_date }}|{{ data_interval_end }}|{{ ts }}|{{ ds }}") == (
        "2024-01-01 00:00:00+00:00|2024-01-01 00:00:00+00:00|2024-01-01T00:00:00+00:00|2024-01-01"
    )
    run = RunInfo(dag_id="d", run_id="r", run_type="manual", logical_date=datetime(2024, 1, 1, tzinfo=UTC))
    context = build_context(dag=None, task=None, run=run, ti=None, params={})
    when = context["logical_date"]
    assert isinstance(when, datetime) and when == datetime(2024, 1, 1, tzinfo=UTC)
    assert str(when) == "2024-01-01 00:00:00+00:00" and when.isoformat() == "2024-01-01T00:00:00+00:00"
