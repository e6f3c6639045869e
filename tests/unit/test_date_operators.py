"""Branching and waiting on dates (BranchDayOfWeekOperator, BranchDateTimeOperator, DayOfWeekSensor,
WeekDay), BashSensor, and the edge cases of ``@task.bash`` — as Airflow 2.10 behaves."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tradewind import (
    DAG,
    BashSensor,
    BranchDateTimeOperator,
    BranchDayOfWeekOperator,
    DayOfWeekSensor,
    EmptyOperator,
    WeekDay,
    task,
)
from tradewind.errors import AirflowException, AirflowFailException, AirflowSkipException
from tradewind.sdk.operators.datetime_branch import target_times_as_dates
from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance
from tradewind.sdk.templating import render_task_fields

MONDAY = datetime(2024, 1, 1, tzinfo=UTC)
SATURDAY = datetime(2024, 1, 6, 15, 30, tzinfo=UTC)


def _context(operator: Any, logical_date: datetime = MONDAY) -> dict[str, Any]:
    ti = RuntimeTaskInstance(
        task=operator,
        dag_id=operator.dag_id,
        run_id="manual__1",
        try_number=1,
        max_tries=0,
        xcom=InMemoryXComBackend(operator.task_id),
        logical_date=logical_date,
    )
    return {
        "ti": ti,
        "task_instance": ti,
        "task": operator,
        "dag": operator.dag,
        "params": {},
        "logical_date": logical_date,
        "ds": logical_date.strftime("%Y-%m-%d"),
        "run_id": "manual__1",
    }


def _run(operator: Any, logical_date: datetime = MONDAY) -> tuple[Any, set[str]]:
    """What the task returns and which of its downstream tasks it skips."""
    context = _context(operator, logical_date)
    render_task_fields(operator, context)
    result = operator.execute(context)
    return result, set(context["ti"].skip_requests)


def _branching_dag(make: Any, tz: str = "UTC") -> Any:
    with DAG("dates", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=ZoneInfo(tz))):
        branch = make()
        branch >> [EmptyOperator(task_id="yes"), EmptyOperator(task_id="no")]
    return branch


# --- WeekDay -----------------------------------------------------------------------------------


def test_weekday_names_numbers_and_collections() -> None:
    assert WeekDay.get_weekday_number("monday") == 1 == WeekDay.MONDAY
    assert WeekDay.convert(WeekDay.SUNDAY) == 7
    assert WeekDay.validate_week_day("Saturday") == {6}
    assert WeekDay.validate_week_day({WeekDay.SATURDAY, "sunday"}) == {6, 7}
    assert WeekDay.validate_week_day(["Monday", "Friday"]) == {1, 5}


def test_a_bad_weekday_is_an_error_naming_it() -> None:
    with pytest.raises(AttributeError, match='Invalid Week Day passed: "Funday"'):
        WeekDay.validate_week_day("Funday")
    with pytest.raises(TypeError, match="Unsupported Type for week_day parameter"):
        WeekDay.validate_week_day(3)  # type: ignore[arg-type]


# --- BranchDayOfWeekOperator -------------------------------------------------------------------


def _weekend_branch(**kwargs: Any) -> Any:
    return _branching_dag(
        lambda: BranchDayOfWeekOperator(
            task_id="weekend",
            week_day={WeekDay.SATURDAY, WeekDay.SUNDAY},
            follow_task_ids_if_true="yes",
            follow_task_ids_if_false="no",
            **kwargs,
        )
    )


def test_day_of_week_branch_on_the_logical_date() -> None:
    branch = _weekend_branch(use_task_logical_date=True)
    assert _run(branch, SATURDAY)[1] == {"no"}
    assert _run(branch, MONDAY)[1] == {"yes"}


def test_day_of_week_branch_on_today_in_the_dags_time_zone() -> None:
    # Friday 23:30 UTC is already Saturday in Tokyo.
    make = lambda: BranchDayOfWeekOperator(  # noqa: E731
        task_id="weekend", week_day="Saturday", follow_task_ids_if_true="yes", follow_task_ids_if_false="no"
    )
    friday_night = datetime(2024, 1, 5, 23, 30, tzinfo=UTC)
    for zone, skipped in (("Asia/Tokyo", {"no"}), ("UTC", {"yes"})):
        branch = _branching_dag(make, tz=zone)
        branch.clock = lambda: friday_night
        assert _run(branch, MONDAY)[1] == skipped, zone


def test_the_old_use_task_execution_day_argument_still_works() -> None:
    assert _run(_weekend_branch(use_task_execution_day=True), SATURDAY)[1] == {"no"}


# --- BranchDateTimeOperator --------------------------------------------------------------------


def _window_branch(lower: Any, upper: Any, **kwargs: Any) -> Any:
    return _branching_dag(
        lambda: BranchDateTimeOperator(
            task_id="window",
            target_lower=lower,
            target_upper=upper,
            follow_task_ids_if_true="yes",
            follow_task_ids_if_false="no",
            **kwargs,
        )
    )


@pytest.mark.parametrize(
    ("lower", "upper", "at", "inside"),
    [
        (time(9), time(17), datetime(2024, 1, 1, 12, tzinfo=UTC), True),
        (time(9), time(17), datetime(2024, 1, 1, 18, tzinfo=UTC), False),
        (time(9), None, datetime(2024, 1, 1, 18, tzinfo=UTC), True),
        (None, time(9), datetime(2024, 1, 1, 18, tzinfo=UTC), False),
        # A window past midnight starts on the date itself: 23:00 is in, 01:00 of that date is not.
        (time(22), time(6), datetime(2024, 1, 1, 23, tzinfo=UTC), True),
        (time(22), time(6), datetime(2024, 1, 1, 1, tzinfo=UTC), False),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 1, 9, tzinfo=UTC), True),
    ],
)
def test_datetime_branch_follows_the_window(lower: Any, upper: Any, at: datetime, inside: bool) -> None:
    branch = _window_branch(lower, upper, use_task_logical_date=True)
    assert _run(branch, at)[1] == ({"no"} if inside else {"yes"})


def test_datetime_branch_uses_now_unless_told_to_use_the_logical_date() -> None:
    branch = _window_branch(time(9), time(17))
    branch.clock = lambda: datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert _run(branch, datetime(2024, 1, 1, 20, tzinfo=UTC))[1] == {"no"}


def test_naive_targets_are_in_the_dags_time_zone() -> None:
    # 09:00-17:00 in New York is 14:00-22:00 UTC.
    make = lambda: BranchDateTimeOperator(  # noqa: E731
        task_id="window",
        target_lower=time(9),
        target_upper=time(17),
        follow_task_ids_if_true="yes",
        follow_task_ids_if_false="no",
        use_task_logical_date=True,
    )
    branch = _branching_dag(make, tz="America/New_York")
    assert _run(branch, datetime(2024, 1, 1, 15, tzinfo=UTC))[1] == {"no"}
    assert _run(branch, datetime(2024, 1, 1, 10, tzinfo=UTC))[1] == {"yes"}


def test_target_times_become_dates_on_the_base_date() -> None:
    base = datetime(2024, 3, 10, 12, tzinfo=UTC)
    assert target_times_as_dates(base, time(22), time(6)) == (datetime(2024, 3, 10, 22), datetime(2024, 3, 11, 6))
    assert target_times_as_dates(base, None, time(6)) == (None, datetime(2024, 3, 10, 6))


def test_a_datetime_branch_needs_a_target() -> None:
    with pytest.raises(AirflowException, match="Both target_upper and target_lower are None"):
        _window_branch(None, None)
    with pytest.raises(TypeError, match="target_lower must be a datetime, a time or None"):
        _window_branch("09:00", None)


# --- DayOfWeekSensor ---------------------------------------------------------------------------


def test_day_of_week_sensor_waits_for_the_day() -> None:
    with DAG("dates", schedule=None, start_date=MONDAY):
        on_logical = DayOfWeekSensor(task_id="a", week_day="Monday", use_task_logical_date=True)
        today = DayOfWeekSensor(task_id="b", week_day=["Saturday", "Sunday"])
    assert on_logical.poke(_context(on_logical, MONDAY)) is True
    assert on_logical.poke(_context(on_logical, SATURDAY)) is False
    today.clock = lambda: SATURDAY
    assert today.poke(_context(today, MONDAY)) is True
    today.clock = lambda: SATURDAY + timedelta(days=2)
    assert today.poke(_context(today, MONDAY)) is False


# --- BashSensor --------------------------------------------------------------------------------


def _bash_sensor(command: str, **kwargs: Any) -> BashSensor:
    with DAG("bash_sensors", schedule=None, start_date=MONDAY):
        return BashSensor(task_id="probe", bash_command=command, **kwargs)


def test_bash_sensor_is_done_when_the_command_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    sensor = _bash_sensor("echo checking {{ ds }}; exit 0")
    context = _context(sensor)
    render_task_fields(sensor, context)
    assert sensor.poke(context) is True
    assert "checking 2024-01-01" in capsys.readouterr().out


def test_bash_sensor_keeps_poking_on_any_other_code_without_a_retry_code() -> None:
    assert _bash_sensor("exit 3").poke(_context(_bash_sensor("exit 3"))) is False


def test_bash_sensor_with_a_retry_code_fails_at_once_on_another_code() -> None:
    sensor = _bash_sensor("exit 5", retry_exit_code=1)
    with pytest.raises(AirflowFailException, match="Command exited with return code 5"):
        sensor.poke(_context(sensor))
    again = _bash_sensor("exit 1", retry_exit_code=1)
    assert again.poke(_context(again)) is False


def test_bash_sensor_with_soft_fail_skips_instead() -> None:
    sensor = _bash_sensor("exit 5", retry_exit_code=1, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        sensor.execute(_context(sensor))


# --- @task.bash --------------------------------------------------------------------------------


def _task_bash(function: Any, *args: Any, **decorator_kwargs: Any) -> Any:
    with DAG("bash_tasks", schedule=None, start_date=MONDAY) as dag:
        task.bash(task_id="command", **decorator_kwargs)(function)(*args)
    return dag.tasks[0]


@pytest.mark.parametrize(
    ("returned", "why"),
    [(None, "returning nothing"), (42, "returning a number"), ("", "an empty command"), ("   ", "only blanks")],
)
def test_task_bash_fails_unless_it_returns_a_non_empty_string(returned: Any, why: str) -> None:
    operator = _task_bash(lambda: returned)
    with pytest.raises(TypeError, match="must be a non-empty string"):
        _run(operator)


def test_task_bash_skips_on_exit_code_99_and_on_the_codes_it_is_given() -> None:
    with pytest.raises(AirflowSkipException, match="exit code 99"):
        _run(_task_bash(lambda: "exit 99"))
    with pytest.raises(AirflowSkipException):
        _run(_task_bash(lambda: "exit 3", skip_on_exit_code=[3]))
    with pytest.raises(AirflowException, match="non-zero exit code 99"):
        _run(_task_bash(lambda: "exit 99", skip_on_exit_code=None))


def test_task_bash_gets_context_keys_and_renders_the_returned_command() -> None:
    def stamp(name: str, ds: str | None = None) -> str:
        return f"echo {name} {ds} {{{{ run_id }}}}"

    assert _run(_task_bash(stamp, "orders"))[0] == "orders 2024-01-01 manual__1"


def test_task_bash_ignores_multiple_outputs_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="multiple_outputs=True` is not supported in @task.bash"):
        operator = _task_bash(lambda: "echo one", multiple_outputs=True)
    assert _run(operator)[0] == "one"
