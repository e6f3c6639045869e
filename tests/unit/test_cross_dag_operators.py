"""ExternalTaskSensor, TriggerDagRunOperator and LatestOnlyOperator: their pure decisions and the
arguments they refuse, as Airflow 2 does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind import (
    DAG,
    EmptyOperator,
    ExternalTaskMarker,
    ExternalTaskSensor,
    LatestOnlyOperator,
    TriggerDagRunOperator,
)
from tradewind.errors import AirflowException, DagDefinitionError
from tradewind.sdk.context import RunInfo, build_context
from tradewind.sdk.operators.latest_only import latest_window
from tradewind.sdk.operators.trigger_dagrun import parse_logical_date
from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance
from tradewind.sdk.schedules import DataInterval, create_timetable
from tradewind.sdk.sensors.external_task import PokeCounts, external_logical_dates, poke_verdict
from tradewind.sdk.serialization import deserialize_dag, serialize_dag

DAY = datetime(2024, 3, 10, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)


# -- which runs of the other DAG the sensor looks at ------------------------------------------------


def test_the_sensor_looks_at_the_same_logical_date_by_default():
    assert external_logical_dates(DAY) == [DAY]


def test_execution_delta_looks_that_far_back():
    assert external_logical_dates(DAY, execution_delta=timedelta(hours=1)) == [DAY - timedelta(hours=1)]


def test_execution_date_fn_gets_the_logical_date_and_the_context_keys_it_names():
    seen = {}

    def previous_day(logical_date, ds, context):
        seen.update(ds=ds, has_context="ds" in context)
        return logical_date - timedelta(days=1)

    assert external_logical_dates(DAY, execution_date_fn=previous_day, context={"ds": "2024-03-10"}) == [
        DAY - timedelta(days=1)
    ]
    assert seen == {"ds": "2024-03-10", "has_context": True}


def test_execution_date_fn_may_return_several_dates_and_naive_ones_are_utc():
    dates = external_logical_dates(DAY, execution_date_fn=lambda dt, **_: [datetime(2024, 3, 9), dt])
    assert dates == [datetime(2024, 3, 9, tzinfo=UTC), DAY]


def test_execution_date_fn_returning_something_else_is_a_clear_error():
    with pytest.raises(AirflowException, match="must return a datetime or a list of datetimes, got '2024'"):
        external_logical_dates(DAY, execution_date_fn=lambda dt: "2024")


# -- what a poke concludes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "verdict"),
    [
        (PokeCounts(expected=1, allowed=1), "done"),
        (PokeCounts(expected=2, allowed=1), "waiting"),
        (PokeCounts(expected=1, allowed=0), "waiting"),
        (PokeCounts(expected=0, allowed=0), "waiting"),
        (PokeCounts(expected=2, allowed=1, failed=1), "failed"),
        (PokeCounts(expected=1, allowed=0, skipped=1), "skipped"),
        (PokeCounts(expected=1, allowed=0, failed=1, skipped=1), "failed"),
    ],
)
def test_failed_states_win_then_skipped_then_all_allowed(counts, verdict):
    assert poke_verdict(counts) == verdict


# -- arguments ---------------------------------------------------------------------------------------


def _sensor(**kwargs) -> ExternalTaskSensor:
    with DAG("sensing", schedule=None, start_date=START):
        return ExternalTaskSensor(task_id="wait", external_dag_id="upstream", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"external_task_id": "a", "external_task_ids": ["b"]},
            "Only one of `external_task_id` or `external_task_ids`",
        ),
        ({"external_task_group_id": "g", "external_task_ids": ["b"]}, "Only one of `external_task_group_id`"),
        ({"execution_delta": timedelta(1), "execution_date_fn": lambda dt: dt}, "not both"),
        ({"external_task_id": "a", "allowed_states": ["success"], "failed_states": ["success"]}, "Duplicate values"),
        ({"external_task_id": "a", "failed_states": ["broken"]}, "failed_states must be task instance states"),
        ({"allowed_states": ["upstream_failed"]}, "allowed_states must be DAG run states"),
        ({"external_task_ids": ["a", "a"]}, "Duplicate task_ids"),
    ],
)
def test_contradictory_sensor_arguments_are_refused_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(DagDefinitionError, match=message):
        _sensor(**kwargs)


def test_a_sensor_round_trips_through_serialization_with_its_templated_fields():
    with DAG("sensing", schedule="@daily", start_date=START) as dag:
        ExternalTaskSensor(
            task_id="wait",
            external_dag_id="upstream",
            external_task_ids=["a", "b"],
            failed_states=["failed"],
            mode="reschedule",
        )
        ExternalTaskMarker(task_id="mark", external_dag_id="downstream", external_task_id="wait")
    again = deserialize_dag(serialize_dag(dag))
    wait = again.get_task("wait")
    assert (wait.operator_name, wait.is_sensor, wait.mode) == ("ExternalTaskSensor", True, "reschedule")
    assert wait.template_values["external_task_ids"] == ["a", "b"]
    assert again.get_task("mark").template_values["execution_date"] == "{{ logical_date.isoformat() }}"
    assert serialize_dag(again) == serialize_dag(dag)


def test_a_marker_needs_a_positive_recursion_depth():
    with DAG("marking", schedule=None, start_date=START), pytest.raises(DagDefinitionError, match="positive"):
        ExternalTaskMarker(task_id="mark", external_dag_id="d", external_task_id="t", recursion_depth=0)


def test_trigger_operator_refuses_a_conf_that_is_not_json_and_bad_states():
    with DAG("triggering", schedule=None, start_date=START):
        with pytest.raises(DagDefinitionError, match="conf parameter should be JSON Serializable"):
            TriggerDagRunOperator(task_id="t1", trigger_dag_id="other", conf={"when": object()})
        with pytest.raises(DagDefinitionError, match="failed_states must be DAG run states"):
            TriggerDagRunOperator(task_id="t2", trigger_dag_id="other", failed_states=["upstream_failed"])
        legacy = TriggerDagRunOperator(task_id="t3", trigger_dag_id="other", execution_date=DAY)
    assert legacy.logical_date == DAY.isoformat() == legacy.execution_date


@pytest.mark.parametrize(
    ("rendered", "message"),
    [("{not json", "conf is not valid JSON"), ("[1, 2]", "conf must render to a JSON object")],
)
def test_a_templated_conf_that_renders_to_no_json_object_fails_the_task_before_any_run_is_made(rendered, message):
    with DAG("triggering", schedule=None, start_date=START):
        trigger = TriggerDagRunOperator(task_id="t", trigger_dag_id="other", conf=rendered)
    with pytest.raises(AirflowException, match=message):
        trigger.execute({})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DAY),
        ("2024-01-05", datetime(2024, 1, 5, tzinfo=UTC)),
        ("2024-01-05T10:00:00+02:00", datetime(2024, 1, 5, 8, tzinfo=UTC)),
        (datetime(2024, 1, 5), datetime(2024, 1, 5, tzinfo=UTC)),
    ],
)
def test_the_triggered_logical_date_is_parsed_from_text_or_defaults_to_now(value, expected):
    assert parse_logical_date(value, DAY) == expected


def test_a_triggered_logical_date_that_is_not_a_date_is_a_clear_error():
    with pytest.raises(AirflowException, match="logical_date 'tomorrow' is not an ISO 8601 date"):
        parse_logical_date("tomorrow", DAY)


# -- latest only -------------------------------------------------------------------------------------

DAILY = create_timetable("@daily", UTC)


def test_the_latest_interval_is_the_one_whose_following_interval_holds_now():
    yesterday = DataInterval(datetime(2024, 3, 9, tzinfo=UTC), DAY)
    window = latest_window(DAILY, start_date=START, data_interval=yesterday, now=DAY + timedelta(hours=3))
    assert (window.is_latest, window.left, window.right) == (True, DAY, DAY + timedelta(days=1))


def test_an_older_interval_is_not_the_latest():
    older = DataInterval(datetime(2024, 3, 7, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))
    assert latest_window(DAILY, start_date=START, data_interval=older, now=DAY + timedelta(hours=3)).is_latest is False


def test_without_a_following_interval_every_run_is_the_latest():
    window = latest_window(create_timetable(None, UTC), start_date=START, data_interval=DataInterval(DAY, DAY), now=DAY)
    assert window == type(window)(True)


def _run_latest_only(*, external_trigger: bool, interval_start: datetime) -> tuple[object, set[str]]:
    with DAG("latest", schedule="@daily", start_date=START) as dag:
        latest = LatestOnlyOperator(task_id="latest_only")
        latest >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]
    run = RunInfo(
        dag_id="latest",
        run_id="r",
        run_type="manual" if external_trigger else "scheduled",
        logical_date=interval_start,
        data_interval_start=interval_start,
        data_interval_end=interval_start + timedelta(days=1),
        external_trigger=external_trigger,
    )
    ti = RuntimeTaskInstance(
        task=latest, dag_id="latest", run_id="r", try_number=1, max_tries=0, xcom=InMemoryXComBackend("latest_only")
    )
    context = build_context(dag=dag, task=latest, run=run, ti=ti, params={})
    return latest.execute(context), ti.skip_requests


def test_latest_only_skips_the_direct_downstream_of_an_old_scheduled_run():
    assert _run_latest_only(external_trigger=False, interval_start=START) == ([], {"a", "b"})


def test_latest_only_lets_a_manual_run_through_whatever_its_date():
    assert _run_latest_only(external_trigger=True, interval_start=START) == (["a", "b"], set())


def test_latest_only_lets_the_latest_scheduled_run_through():
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert _run_latest_only(external_trigger=False, interval_start=today - timedelta(days=1)) == (["a", "b"], set())
