"""The task context: its Airflow 2 keys, and get_current_context() inside and outside a task."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pendulum
import pytest

from tradewind.errors import TradewindException
from tradewind.sdk import airflow_conf
from tradewind.sdk.context import RunInfo, build_context, get_current_context, set_current_context


def _context(**run_overrides):
    logical = datetime(2024, 3, 5, tzinfo=UTC)
    run = RunInfo(
        dag_id="etl",
        run_id="scheduled__2024-03-05T00:00:00+00:00",
        run_type="scheduled",
        logical_date=logical,
        data_interval_start=logical,
        data_interval_end=logical + timedelta(days=1),
        conf={"k": "v"},
        **run_overrides,
    )
    dag = SimpleNamespace(dag_id="etl", user_defined_macros={"ds": "shadowed", "env": "prod"})
    task = SimpleNamespace(task_id="load")
    ti = SimpleNamespace(task_id="load", try_number=2, map_index=-1)
    return build_context(dag=dag, task=task, run=run, ti=ti, params={"p": 1})


def test_context_has_airflow_date_keys():
    ctx = _context()
    assert ctx["ds"] == "2024-03-05"
    assert ctx["ds_nodash"] == "20240305"
    assert ctx["ts"] == "2024-03-05T00:00:00+00:00"
    assert ctx["ts_nodash"] == "20240305T000000"
    assert ctx["ts_nodash_with_tz"] == "20240305T000000+0000"
    assert ctx["next_ds"] == "2024-03-06"
    assert ctx["yesterday_ds_nodash"] == "20240304"
    assert ctx["tomorrow_ds"] == "2024-03-06"
    assert ctx["prev_ds"] is None
    assert ctx["execution_date"] == ctx["logical_date"]
    assert ctx["prev_data_interval_start_success"] is None


def test_dates_are_pendulum_in_utc():
    ctx = _context()
    assert isinstance(ctx["logical_date"], pendulum.DateTime)
    assert ctx["data_interval_end"].timezone_name == "UTC"


def test_non_utc_logical_date_is_converted_to_utc():
    logical = datetime(2024, 3, 5, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    run = RunInfo(dag_id="d", run_id="r", run_type="manual", logical_date=logical, external_trigger=True)
    ctx = build_context(
        dag=None,
        task=SimpleNamespace(task_id="t"),
        run=run,
        ti=SimpleNamespace(try_number=1, map_index=-1),
        params={},
    )
    assert ctx["ts"] == "2024-03-04T23:00:00+00:00"
    assert ctx["ds"] == "2024-03-04"
    assert ctx["data_interval_start"] == ctx["data_interval_end"] == ctx["logical_date"]
    assert ctx["next_ds"] == ctx["prev_ds"] == "2024-03-04"  # a manual run is its own neighbour


def test_naive_logical_date_is_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        RunInfo(dag_id="d", run_id="r", run_type="manual", logical_date=datetime(2024, 1, 1))


def test_context_carries_run_task_and_ti():
    ctx = _context()
    assert ctx["run_id"] == "scheduled__2024-03-05T00:00:00+00:00"
    # As in Airflow, `conf` is the configuration; the run's conf is dag_run.conf.
    assert ctx["dag_run"].conf == {"k": "v"} and ctx["conf"] is airflow_conf.conf
    assert ctx["dag_run"].execution_date == ctx["logical_date"]
    assert ctx["dag_run"].run_type == "scheduled"
    assert ctx["ti"] is ctx["task_instance"]
    assert ctx["try_number"] == 2 and ctx["map_index"] == -1
    assert ctx["params"] == {"p": 1}
    assert ctx["task_instance_key_str"] == "etl__load__20240305"
    assert ctx["test_mode"] is False and ctx["templates_dict"] is None
    assert ctx["inlets"] == [] and ctx["outlets"] == []
    assert ctx["macros"].ds_add("2024-03-05", 1) == "2024-03-06"


def test_user_defined_macros_do_not_shadow_builtin_keys():
    ctx = _context()
    assert ctx["env"] == "prod"
    assert ctx["ds"] == "2024-03-05"


def test_get_current_context_outside_a_task_raises():
    with pytest.raises(TradewindException, match="outside a running task"):
        get_current_context()


def test_get_current_context_inside_a_task():
    ctx = _context()
    with set_current_context(ctx):
        assert get_current_context() is ctx
    with pytest.raises(TradewindException):
        get_current_context()


def test_current_context_nests_and_restores():
    outer, inner = _context(), _context()
    with set_current_context(outer):
        with set_current_context(inner):
            assert get_current_context() is inner
        assert get_current_context() is outer


def test_current_context_is_restored_after_an_exception():
    with pytest.raises(RuntimeError), set_current_context(_context()):
        raise RuntimeError("task failed")
    with pytest.raises(TradewindException):
        get_current_context()


def test_current_context_is_not_shared_with_other_threads():
    seen = []
    with set_current_context(_context()):
        thread = threading.Thread(target=lambda: seen.append(_has_context()))
        thread.start()
        thread.join()
    assert seen == [False]


def _has_context():
    try:
        get_current_context()
    except TradewindException:
        return False
    return True


def _run_of(dag, logical, interval, *, external_trigger=False, run_type="scheduled"):
    run = RunInfo(
        dag_id=dag.dag_id,
        run_id="r",
        run_type=run_type,
        logical_date=logical,
        data_interval_start=interval[0],
        data_interval_end=interval[1],
        external_trigger=external_trigger,
    )
    task = dag.tasks[0]
    return build_context(dag=dag, task=task, run=run, ti=SimpleNamespace(try_number=1), params={})


def _daily_dag(schedule="@daily", start_date=datetime(2023, 1, 1, tzinfo=UTC)):
    from tradewind import DAG, EmptyOperator

    with DAG("neighbours", schedule=schedule, start_date=start_date) as dag:
        EmptyOperator(task_id="t")
    return dag


def test_a_scheduled_run_has_the_schedules_previous_and_next_dates():
    day = datetime(2024, 3, 5, tzinfo=UTC)
    ctx = _run_of(_daily_dag(), day, (day, day + timedelta(days=1)))
    assert (ctx["prev_ds"], ctx["ds"], ctx["next_ds"]) == ("2024-03-04", "2024-03-05", "2024-03-06")
    assert ctx["prev_ds_nodash"] == "20240304" and ctx["next_ds_nodash"] == "20240306"
    assert ctx["prev_execution_date"] == pendulum.datetime(2024, 3, 4, tz="UTC")


def test_a_manual_run_not_triggered_from_outside_gets_its_dates_from_the_schedule():
    # Airflow's `dags test` of a daily DAG at 2024-01-01: the run covers 31 December, so the schedule's
    # previous date is 2023-12-31 and its next run is the one that interval leads to, 2024-01-01.
    day = datetime(2024, 1, 1, tzinfo=UTC)
    ctx = _run_of(_daily_dag(), day, (day - timedelta(days=1), day), run_type="manual")
    assert (ctx["prev_ds"], ctx["next_ds"]) == ("2023-12-31", "2024-01-01")


def test_a_run_triggered_from_outside_is_its_own_neighbour():
    day = datetime(2024, 1, 1, tzinfo=UTC)
    ctx = _run_of(_daily_dag(), day, (day - timedelta(days=1), day), external_trigger=True, run_type="manual")
    assert ctx["prev_ds"] == ctx["next_ds"] == ctx["ds"] == "2024-01-01"


def test_neighbours_follow_the_local_clock_across_a_dst_change():
    from zoneinfo import ZoneInfo

    dag = _daily_dag("0 2 * * *", datetime(2024, 3, 1, 2, tzinfo=ZoneInfo("Europe/Amsterdam")))
    logical = datetime(2024, 3, 31, 1, tzinfo=UTC)  # 31 March, 03:00 CEST (02:00 does not exist)
    ctx = _run_of(dag, logical, (logical, datetime(2024, 4, 1, tzinfo=UTC)))
    assert ctx["prev_execution_date"] == pendulum.datetime(2024, 3, 30, 1, tz="UTC")
    assert ctx["next_execution_date"] == pendulum.datetime(2024, 4, 1, 0, tz="UTC")


def test_a_dag_without_a_schedule_has_no_previous_date():
    day = datetime(2024, 1, 1, tzinfo=UTC)
    ctx = _run_of(_daily_dag(None), day, (day, day), run_type="manual")
    assert ctx["prev_ds"] is None and ctx["next_ds"] is None
