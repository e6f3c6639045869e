"""Sensors: poke and reschedule modes, timeouts across tries, backoff, and the stock sensors.

Time is a fake clock we own, installed through the sensors' ``clock``/``sleep`` attributes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind import (
    DAG,
    BaseSensorOperator,
    DateTimeSensor,
    FileSensor,
    PokeReturnValue,
    PythonSensor,
    TimeDeltaSensor,
)
from tradewind.errors import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    DagDefinitionError,
)
from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance
from tradewind.sdk.templating import render_task_fields

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


class CountingSensor(BaseSensorOperator):
    """Done on the ``done_after``-th poke (never, when None)."""

    def __init__(self, *, done_after: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.done_after = done_after
        self.pokes = 0

    def poke(self, context) -> bool:
        self.pokes += 1
        return self.done_after is not None and self.pokes >= self.done_after


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=T0)


def _with_clock(sensor: BaseSensorOperator, clock: FakeClock) -> BaseSensorOperator:
    sensor.clock = clock
    sensor.sleep = clock.sleep
    return sensor


def _context(task, ti: RuntimeTaskInstance | None = None, **extra) -> dict:
    ti = ti or _ti(task)
    return {"ti": ti, "task_instance": ti, "task": task, "dag": task.dag, "params": {}, **extra}


def _ti(task, try_number: int = 1) -> RuntimeTaskInstance:
    return RuntimeTaskInstance(
        task=task,
        dag_id=task.dag_id,
        run_id="manual__1",
        try_number=try_number,
        max_tries=2,
        xcom=InMemoryXComBackend(task.task_id),
    )


# -- the poke loop ----------------------------------------------------------------------------


def test_poke_mode_returns_once_the_condition_is_true():
    clock = FakeClock()
    with _dag("s_poke"):
        sensor = _with_clock(CountingSensor(task_id="s", done_after=3, poke_interval=30), clock)
    context = _context(sensor)
    assert sensor.execute(context) is None
    assert sensor.pokes == 3
    assert clock.sleeps == [30, 30]
    assert context["ti"].first_poke_at == T0


def test_poke_return_value_becomes_the_xcom():
    with _dag("s_xcom"):
        sensor = PythonSensor(task_id="s", python_callable=lambda: PokeReturnValue(True, {"rows": 3}))
    assert sensor.execute(_context(sensor)) == {"rows": 3}


def test_timeout_raises_sensor_timeout():
    clock = FakeClock()
    with _dag("s_timeout"):
        sensor = _with_clock(CountingSensor(task_id="s", poke_interval=60, timeout=150), clock)
    with pytest.raises(AirflowSensorTimeout, match="exceeds the specified timeout of 150"):
        sensor.execute(_context(sensor))
    # Pokes at 0, 60, 120 and 180 seconds; the last is past the timeout.
    assert sensor.pokes == 4


def test_timeout_counts_from_the_first_poke_of_an_earlier_try():
    clock = FakeClock()
    with _dag("s_timeout_tries"):
        sensor = _with_clock(CountingSensor(task_id="s", poke_interval=60, timeout=300), clock)
    ti = _ti(sensor, try_number=2)
    ti.first_poke_at = T0 - timedelta(seconds=280)  # the first try poked for 280 seconds already
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute(_context(sensor, ti))
    assert sensor.pokes == 2
    assert ti.first_poke_at == T0 - timedelta(seconds=280)


def test_soft_fail_skips_on_timeout():
    clock = FakeClock()
    with _dag("s_soft"):
        sensor = _with_clock(CountingSensor(task_id="s", poke_interval=10, timeout=15, soft_fail=True), clock)
    with pytest.raises(AirflowSkipException, match="timed out"):
        sensor.execute(_context(sensor))


def test_soft_fail_skips_when_poke_fails_for_good():
    class Failing(BaseSensorOperator):
        def poke(self, context):
            raise AirflowFailException("gone")

    with _dag("s_soft_fail"):
        sensor = Failing(task_id="s", soft_fail=True)
    with pytest.raises(AirflowSkipException, match="soft_fail"):
        sensor.execute(_context(sensor))


def test_silent_fail_treats_a_poke_error_as_not_done():
    clock = FakeClock()
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 2:
            raise ConnectionError("not yet")
        return True

    with _dag("s_silent"):
        sensor = _with_clock(PythonSensor(task_id="s", python_callable=flaky, silent_fail=True, poke_interval=5), clock)
    sensor.execute(_context(sensor))
    assert len(attempts) == 2
    with _dag("s_loud"):
        loud = PythonSensor(task_id="s", python_callable=lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        loud.execute(_context(loud))


def test_reschedule_mode_raises_reschedule_with_the_next_poke_time():
    clock = FakeClock()
    with _dag("s_resched"):
        sensor = _with_clock(CountingSensor(task_id="s", mode="reschedule", poke_interval=45), clock)
    context = _context(sensor)
    with pytest.raises(AirflowRescheduleException) as err:
        sensor.execute(context)
    assert err.value.reschedule_date == T0 + timedelta(seconds=45)
    assert context["ti"].first_poke_at == T0
    assert sensor.pokes == 1 and clock.sleeps == []


def test_reschedule_mode_times_out_from_the_first_poke():
    clock = FakeClock(T0 + timedelta(seconds=100))
    with _dag("s_resched_timeout"):
        sensor = _with_clock(CountingSensor(task_id="s", mode="reschedule", timeout=90), clock)
    ti = _ti(sensor)
    ti.first_poke_at = T0
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute(_context(sensor, ti))


def test_exponential_backoff_doubles_the_interval_up_to_max_wait():
    clock = FakeClock()
    with _dag("s_backoff"):
        sensor = _with_clock(
            CountingSensor(
                task_id="s", done_after=7, poke_interval=10, exponential_backoff=True, max_wait=timedelta(seconds=100)
            ),
            clock,
        )
    sensor.execute(_context(sensor))
    assert clock.sleeps == [10, 20, 40, 80, 100, 100]


def test_exponential_backoff_in_reschedule_mode_follows_the_same_intervals():
    clock = FakeClock()
    with _dag("s_backoff_resched"):
        sensor = _with_clock(
            CountingSensor(task_id="s", mode="reschedule", poke_interval=10, exponential_backoff=True, max_wait=60),
            clock,
        )
    ti = _ti(sensor)
    intervals = []
    for _ in range(5):
        with pytest.raises(AirflowRescheduleException) as err:
            sensor.execute(_context(sensor, ti))
        intervals.append((err.value.reschedule_date - clock.now).total_seconds())
        clock.now = err.value.reschedule_date + timedelta(seconds=1)  # the scheduler is a bit late
    assert intervals == [10, 20, 40, 60, 60]


def test_clock_can_be_replaced_on_a_subclass():
    fixed = T0 + timedelta(days=2)

    class FixedTimeDeltaSensor(TimeDeltaSensor):
        clock = staticmethod(lambda: fixed)

    with _dag("s_subclass"):
        sensor = FixedTimeDeltaSensor(task_id="s", delta=timedelta(days=1))
    assert sensor.poke(_context(sensor, data_interval_end=T0)) is True


def test_sensor_arguments_are_checked_when_the_dag_is_parsed():
    with _dag("s_bad"):
        with pytest.raises(DagDefinitionError, match="mode must be one of"):
            CountingSensor(task_id="a", mode="sometimes")
        with pytest.raises(DagDefinitionError, match="poke_interval"):
            CountingSensor(task_id="b", poke_interval=-1)
        with pytest.raises(DagDefinitionError, match="timeout"):
            CountingSensor(task_id="c", timeout=timedelta(seconds=-5))
        ok = CountingSensor(task_id="d", poke_interval=timedelta(minutes=2), timeout=timedelta(hours=1))
    assert (ok.poke_interval, ok.timeout, ok.is_sensor) == (120, 3600, True)


# -- stock sensors ----------------------------------------------------------------------------


def test_python_sensor_passes_op_kwargs_and_context():
    with _dag("s_python"):
        sensor = PythonSensor(
            task_id="s", python_callable=lambda limit, ds: ds == limit, op_kwargs={"limit": "2024-01-01"}
        )
    assert sensor.execute(_context(sensor, ds="2024-01-01")) is None


def test_file_sensor_matches_a_glob(tmp_path):
    with _dag("s_file"):
        sensor = FileSensor(task_id="s", filepath=str(tmp_path / "*.csv"))
    context = _context(sensor)
    assert sensor.poke(context) is False
    (tmp_path / "data.csv").write_text("a,b\n")
    assert sensor.poke(context) is True


def test_file_sensor_needs_a_file_inside_a_directory(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    with _dag("s_dir"):
        sensor = FileSensor(task_id="s", filepath=str(folder))
    context = _context(sensor)
    assert sensor.poke(context) is False
    (folder / "nested").mkdir()
    assert sensor.poke(context) is False
    (folder / "nested" / "part-0").write_text("x")
    assert sensor.poke(context) is True


def test_file_sensor_recursive_glob_and_templated_path(tmp_path):
    (tmp_path / "2024-01-01" / "deep").mkdir(parents=True)
    (tmp_path / "2024-01-01" / "deep" / "done.flag").write_text("")
    with _dag("s_file_tpl"):
        sensor = FileSensor(task_id="s", filepath=str(tmp_path) + "/{{ ds }}/**/*.flag", recursive=True)
    context = _context(sensor, ds="2024-01-01")
    render_task_fields(sensor, context)
    assert sensor.filepath == f"{tmp_path}/2024-01-01/**/*.flag"
    assert sensor.poke(context) is True


def test_time_delta_sensor_waits_until_interval_end_plus_delta():
    clock = FakeClock(T0)
    with _dag("s_delta"):
        sensor = _with_clock(TimeDeltaSensor(task_id="s", delta=timedelta(hours=1)), clock)
    context = _context(sensor, data_interval_end=T0 - timedelta(minutes=30))
    assert sensor.poke(context) is False
    clock.now = T0 + timedelta(minutes=30, seconds=1)
    assert sensor.poke(context) is True


def test_date_time_sensor_with_naive_string_means_utc():
    clock = FakeClock(T0)
    with _dag("s_datetime"):
        sensor = _with_clock(DateTimeSensor(task_id="s", target_time="2024-01-01T12:30:00"), clock)
    assert sensor.poke(_context(sensor)) is False
    clock.now = T0 + timedelta(minutes=31)
    assert sensor.poke(_context(sensor)) is True


def test_date_time_sensor_accepts_a_datetime_and_a_template():
    with _dag("s_datetime_obj"):
        from_datetime = DateTimeSensor(task_id="a", target_time=T0)
        templated = DateTimeSensor(task_id="b", target_time="{{ ds }}T00:00:00+00:00")
    assert from_datetime.target_time == "2024-01-01T12:00:00+00:00"
    context = _context(templated, ds="2024-01-01")
    render_task_fields(templated, context)
    _with_clock(templated, FakeClock(T0))
    assert templated.poke(context) is True
    with _dag("s_datetime_bad"), pytest.raises(DagDefinitionError, match="target_time"):
        DateTimeSensor(task_id="c", target_time=42)


def test_never_fail_skips_when_poke_raises():
    with _dag("s_never_fail"):
        sensor = PythonSensor(task_id="s", python_callable=lambda: 1 / 0, never_fail=True)
        with pytest.raises(DagDefinitionError, match="mutually exclusive"):
            PythonSensor(task_id="both", python_callable=bool, never_fail=True, soft_fail=True)
    with pytest.raises(AirflowSkipException, match="never_fail"):
        sensor.execute(_context(sensor))
