"""Deferrable tasks, the pure parts: the deferred state's transitions, a run waiting on a deferred
task, the sharing of triggers between triggerers, triggers serialized and rebuilt, and operators
that defer instead of poking."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tradewind import DAG
from tradewind.decisions.planner import TaskNode, TIView, plan_run
from tradewind.decisions.trigger_assignment import TriggerHolding, fair_share, triggers_to_take
from tradewind.errors import TaskDeferralError, TaskDeferred
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.sensors.date_time import DateTimeSensor, DateTimeSensorAsync
from tradewind.sdk.sensors.filesystem import FileSensor
from tradewind.sdk.sensors.time_delta import TimeDeltaSensor, TimeDeltaSensorAsync
from tradewind.sdk.triggers.base import TriggerEvent, decode_kwargs, load_trigger, serialize_checked
from tradewind.sdk.triggers.external_task import DagStateTrigger, WorkflowTrigger
from tradewind.sdk.triggers.file import FileTrigger
from tradewind.sdk.triggers.temporal import DateTimeTrigger, TimeDeltaTrigger
from tradewind.states import ACTIVE_STATES, UNFINISHED_STATES, can_transition
from tradewind.states import TaskInstanceState as TI
from tradewind.worker import outcome as outcomes

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- the deferred state ---------------------------------------------------------------------------


def test_a_running_task_defers_and_its_trigger_sends_it_back_to_scheduled() -> None:
    assert can_transition(TI.RUNNING, TI.DEFERRED)
    assert can_transition(TI.DEFERRED, TI.SCHEDULED)
    # Only a fired, failed or timed-out trigger resumes it: never straight to a worker or an end.
    for target in (TI.QUEUED, TI.RUNNING, TI.SUCCESS, TI.FAILED, TI.UP_FOR_RETRY):
        assert not can_transition(TI.DEFERRED, target), target


def test_a_person_may_clear_or_mark_a_deferred_task() -> None:
    for target in (TI.NONE, TI.SUCCESS, TI.FAILED, TI.SKIPPED):
        assert can_transition(TI.DEFERRED, target, manual=True)


def test_a_deferred_task_is_unfinished_and_holds_no_worker_slot() -> None:
    assert TI.DEFERRED in UNFINISHED_STATES
    assert TI.DEFERRED not in ACTIVE_STATES


def test_a_run_with_a_deferred_task_keeps_running_and_is_not_deadlocked() -> None:
    tasks = {
        "wait": TaskNode("wait", frozenset(), "all_success", 0),
        "after": TaskNode("after", frozenset({"wait"}), "all_success", 0),
    }
    views = [TIView("wait", -1, TI.DEFERRED, 1, 0), TIView("after", -1, TI.NONE, 0, 0)]
    plan = plan_run(tasks, views, NOW)
    assert plan.run_state is None
    assert plan.schedule == [] and plan.skip == [] and plan.upstream_failed == []


# --- sharing triggers between triggerers ------------------------------------------------------------


def holdings(*pairs: tuple[int, int | None]) -> list[TriggerHolding]:
    return [TriggerHolding(trigger_id, triggerer) for trigger_id, triggerer in pairs]


@pytest.mark.parametrize(
    ("pairs", "me", "alive", "capacity", "taken"),
    [
        # Alone, a triggerer takes every free trigger, oldest first, up to its capacity.
        ([(1, None), (2, None), (3, None)], 10, {10}, 1000, [1, 2, 3]),
        ([(1, None), (2, None), (3, None)], 10, {10}, 2, [1, 2]),
        # Two live triggerers split the work: each takes up to half (rounded up).
        ([(1, None), (2, None), (3, None), (4, None)], 10, {10, 11}, 1000, [1, 2]),
        ([(1, 10), (2, 10), (3, None), (4, None)], 11, {10, 11}, 1000, [3, 4]),
        # Its share already held: nothing more.
        ([(1, 10), (2, 10), (3, None), (4, None)], 10, {10, 11}, 1000, []),
        # A dead triggerer's triggers are free: the survivor takes them.
        ([(1, 10), (2, 10), (3, 11), (4, 11)], 11, {11}, 1000, [1, 2]),
        # A live triggerer's triggers are never taken.
        ([(1, 10), (2, 10)], 11, {10, 11}, 1000, []),
    ],
)
def test_a_triggerer_takes_its_share_of_the_free_triggers(pairs, me, alive, capacity, taken) -> None:
    assert triggers_to_take(holdings(*pairs), me, alive, capacity=capacity) == taken


def test_the_shares_of_the_live_triggerers_cover_every_trigger() -> None:
    for total in range(0, 50):
        for alive in range(1, 6):
            assert fair_share(total, alive) * alive >= total


# --- triggers serialized as (classpath, kwargs) ---------------------------------------------------------


@pytest.mark.parametrize(
    "trigger",
    [
        DateTimeTrigger(NOW),
        FileTrigger("/data/*.csv", recursive=True, poke_interval=2),
        WorkflowTrigger("other", logical_dates=[NOW], external_task_ids=["a"], failed_states=["failed"]),
        DagStateTrigger("other", states=["success", "failed"], logical_dates=[NOW], poll_interval=1),
    ],
)
def test_a_trigger_is_rebuilt_from_its_serialized_form(trigger) -> None:
    classpath, kwargs = serialize_checked(trigger)
    rebuilt = load_trigger(classpath, kwargs)
    assert type(rebuilt) is type(trigger)
    assert serialize_checked(rebuilt) == (classpath, kwargs)


def test_a_time_delta_trigger_is_stored_as_the_moment_it_fires() -> None:
    before = datetime.now(UTC)
    classpath, kwargs = serialize_checked(TimeDeltaTrigger(timedelta(minutes=5)))
    assert classpath == "tradewind.sdk.triggers.temporal.DateTimeTrigger"
    moment = decode_kwargs(kwargs)["moment"]
    assert before + timedelta(minutes=5) <= moment <= datetime.now(UTC) + timedelta(minutes=5)


def test_a_date_time_trigger_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="naive"):
        DateTimeTrigger(datetime(2024, 1, 1))


def test_a_date_time_trigger_in_the_past_fires_at_once_with_its_moment() -> None:
    async def first() -> TriggerEvent:
        async for event in DateTimeTrigger(NOW).run():
            return event
        raise AssertionError("no event")

    assert asyncio.run(first()) == TriggerEvent(NOW.isoformat())


def test_a_file_trigger_fires_once_the_file_exists(tmp_path: Path) -> None:
    target = tmp_path / "ready.txt"

    async def scenario() -> TriggerEvent:
        waiting = asyncio.ensure_future(anext(FileTrigger(str(target), poke_interval=0.01).run()))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        target.write_text("ok")
        return await asyncio.wait_for(waiting, timeout=5)

    assert asyncio.run(scenario()) == TriggerEvent(True)


# --- operators that defer ------------------------------------------------------------------------------


def _context(data_interval_end: datetime) -> dict:
    return {"data_interval_end": data_interval_end, "ti": object()}


def test_a_deferrable_time_delta_sensor_defers_until_its_target_time() -> None:
    with DAG("d", schedule=None, start_date=NOW):
        sensor = TimeDeltaSensor(task_id="wait", delta=timedelta(hours=1), deferrable=True)
    end = datetime.now(UTC)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(_context(end))
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.trigger.moment == end + timedelta(hours=1)


def test_a_deferrable_time_delta_sensor_past_its_time_ends_at_once() -> None:
    with DAG("d", schedule=None, start_date=NOW):
        sensor = TimeDeltaSensorAsync(task_id="wait", delta=timedelta(seconds=1))
    assert sensor.deferrable
    assert sensor.execute(_context(NOW)) is None


def test_a_deferrable_date_time_sensor_defers_on_its_moment() -> None:
    with DAG("d", schedule=None, start_date=NOW):
        sensor = DateTimeSensor(task_id="wait", target_time="2099-01-01T00:00:00+00:00", deferrable=True)
        always = DateTimeSensorAsync(task_id="always", target_time="2099-01-01T00:00:00")
    for task in (sensor, always):
        with pytest.raises(TaskDeferred) as deferred:
            task.execute({})
        assert deferred.value.trigger.moment == datetime(2099, 1, 1, tzinfo=UTC)


def test_a_deferrable_file_sensor_looks_once_then_defers_with_its_timeout(tmp_path: Path) -> None:
    with DAG("d", schedule=None, start_date=NOW):
        sensor = FileSensor(task_id="wait", filepath=str(tmp_path / "x"), deferrable=True, timeout=90)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert isinstance(deferred.value.trigger, FileTrigger)
    assert deferred.value.timeout == timedelta(seconds=90)
    (tmp_path / "x").write_text("here")
    assert sensor.execute({}) is None


def test_a_resumed_task_calls_its_method_and_a_failed_trigger_fails_it() -> None:
    class Waits(BaseOperator):
        def done(self, context, event=None, extra=None):
            return (event, extra)

    with DAG("d", schedule=None, start_date=NOW):
        task = Waits(task_id="waits")
    assert task.resume_execution("done", {"event": 1, "extra": 2}, {}) == (1, 2)
    with pytest.raises(TaskDeferralError, match="Trigger timeout"):
        task.resume_execution("__fail__", {"error": "Trigger timeout"}, {})


def test_a_deferred_outcome_carries_its_trigger_and_its_timeout() -> None:
    exc = TaskDeferred(trigger=DateTimeTrigger(NOW), method_name="go", kwargs={"at": NOW}, timeout=timedelta(5))
    outcome = outcomes.deferred(exc, now=NOW, started=NOW, execution_timeout=None)
    assert outcome.state is TI.DEFERRED
    deferral = outcomes.Deferral.from_json(outcomes.Outcome.from_json(outcome.to_json()).deferral or {})
    assert deferral.classpath.endswith("DateTimeTrigger")
    assert deferral.next_method == "go"
    assert decode_kwargs(deferral.next_kwargs) == {"at": NOW}
    assert deferral.timeout_at == NOW + timedelta(5)
    # Without a timeout of its own, the task's execution_timeout bounds the wait (from the try's start).
    exc.timeout = None
    started = NOW - timedelta(minutes=1)
    bounded = outcomes.deferred(exc, now=NOW, started=started, execution_timeout=timedelta(minutes=10))
    assert outcomes.Deferral.from_json(bounded.deferral or {}).timeout_at == started + timedelta(minutes=10)
