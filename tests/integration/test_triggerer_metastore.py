"""The triggerer's metastore work on SQLite and PostgreSQL alike: a deferred task instance's trigger
is stored with it, two triggerers split the triggers and a dead one's are taken over, a fired trigger
resumes its task instance once (in the same try, the event in its kwargs), a failed one resumes it
with ``__fail__``, a wait past its timeout too, and a cleared task instance's trigger is dropped.

The triggerers here run with a runner we drive by hand (what fired is said by the test), so the
metastore side is what is tested; the asyncio side has its own tests."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import pools, runs, task_instances, triggers, xcoms
from tradewind.metastore.engine import session_scope
from tradewind.metastore.models import TaskInstance, Trigger
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.events import TimerOnlyBus
from tradewind.settings import Settings
from tradewind.states import DagRunState
from tradewind.states import TaskInstanceState as TI
from tradewind.triggerer.loop import Triggerer
from tradewind.triggerer.runner import Failed, Fired, TriggerOutcome, TriggerSpec
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import Reporter

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, tzinfo=UTC)


class HandRunner:
    """A trigger runner whose triggers fire when the test says so."""

    def __init__(self) -> None:
        self.running: dict[int, TriggerSpec] = {}
        self.outcomes: list[TriggerOutcome] = []
        self.outcome_ready = threading.Event()

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def update(self, wanted: Iterable[TriggerSpec]) -> None:
        self.running = {spec.trigger_id: spec for spec in wanted}

    def drain(self) -> list[TriggerOutcome]:
        found, self.outcomes = self.outcomes, []
        return found


def _triggerer(settings: Settings, factory: sessionmaker[Session]) -> tuple[Triggerer, HandRunner]:
    runner = HandRunner()
    triggerer = Triggerer(settings, factory, TimerOnlyBus(), runner=runner)  # type: ignore[arg-type]
    triggerer.start()
    return triggerer, runner


def _defer_tasks(factory: sessionmaker[Session], count: int, *, timeout_at: datetime | None = None) -> list[TIKey]:
    """``count`` task instances that ran their first try and deferred on a trigger of their own."""
    rows = [{"task_id": f"t{i}", "operator": "Defers"} for i in range(count)]
    with session_scope(factory) as session:
        runs.create_run(
            session,
            dag_id="deferring",
            run_id="manual__1",
            run_type="manual",
            logical_date=T0,
            state=DagRunState.RUNNING,
            task_rows=rows,
        )
    keys = [TIKey("deferring", "manual__1", f"t{i}") for i in range(count)]
    for key in keys:
        with session_scope(factory) as session:
            assert task_instances.transition(
                session, key, expected_state=TI.NONE, target_state=TI.SCHEDULED, try_number=1
            )
            assert task_instances.transition(session, key, expected_state=TI.SCHEDULED, target_state=TI.QUEUED)
        reporter = Reporter(factory, key, 1)
        assert reporter.claim(hostname="w1", pid=1) is not None
        deferral = {
            "classpath": "tradewind.sdk.triggers.temporal.DateTimeTrigger",
            "trigger_kwargs": {"moment": {"__datetime__": T0.isoformat()}, "end_from_trigger": False},
            "next_method": "execute_complete",
            "next_kwargs": {"n": 1},
            "timeout_at": timeout_at.isoformat() if timeout_at else None,
        }
        written, _ = reporter.finish(Outcome(TI.DEFERRED, deferral=deferral))
        assert written
    return keys


def _row(factory: sessionmaker[Session], key: TIKey):  # type: ignore[no-untyped-def]
    with session_scope(factory) as session:
        row = task_instances.get_ti(session, key.dag_id, key.run_id, key.task_id)
        assert row is not None
        session.expunge(row)
        return row


def _holders(factory: sessionmaker[Session]) -> list[int | None]:
    with session_scope(factory) as session:
        return list(session.scalars(select(Trigger.triggerer_id).order_by(Trigger.id)))


def test_a_deferred_try_stores_its_trigger_and_holds_no_live_process(
    metastore_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    (key,) = _defer_tasks(session_factory, 1)
    row = _row(session_factory, key)
    assert (row.state, row.try_number, row.live_try, row.next_method) == ("deferred", 1, None, "execute_complete")
    with session_scope(session_factory) as session:
        stored = triggers.all_triggers(session)
    assert [t.trigger_id for t in stored] == [row.trigger_id]
    assert stored[0].classpath.endswith("DateTimeTrigger")


def test_two_triggerers_split_the_triggers_and_a_dead_ones_go_to_the_other(
    metastore_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    settings = metastore_settings.with_overrides(triggerer_health_check_threshold=5.0)
    _defer_tasks(session_factory, 4)
    first, first_runner = _triggerer(settings, session_factory)
    second, second_runner = _triggerer(settings, session_factory)
    now = datetime.now(UTC)
    first.tick(now)
    second.tick(now)
    assert len(first_runner.running) == 2 and len(second_runner.running) == 2
    assert sorted(_holders(session_factory), key=str) == sorted([first.job_id] * 2 + [second.job_id] * 2, key=str)

    # The first stops heartbeating (killed): past the threshold the second takes its triggers.
    later = now + timedelta(seconds=3)
    second.tick(later)
    assert len(second_runner.running) == 2
    second.tick(now + timedelta(seconds=6))
    assert len(second_runner.running) == 4
    assert _holders(session_factory) == [second.job_id] * 4


def test_a_fired_trigger_resumes_its_task_once_in_the_same_try(
    metastore_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    (key,) = _defer_tasks(session_factory, 1)
    started = _row(session_factory, key).start_date
    triggerer, runner = _triggerer(metastore_settings, session_factory)
    triggerer.tick(datetime.now(UTC))
    (trigger_id,) = runner.running
    # Fired twice (by two triggerers in a hand-over): the task resumes once.
    runner.outcomes = [Fired(trigger_id, "2024-03-01T00:00:00+00:00"), Fired(trigger_id, "again")]
    triggerer.tick(datetime.now(UTC))
    row = _row(session_factory, key)
    assert (row.state, row.try_number, row.trigger_id) == ("scheduled", 1, None)
    assert (row.next_method, row.next_kwargs) == ("execute_complete", {"n": 1, "event": "2024-03-01T00:00:00+00:00"})
    assert _holders(session_factory) == [] and runner.running == {}

    # A worker claims the resumed try: the same try, told what to call, its start kept, and what
    # it pushed before it deferred still there (as in Airflow).
    with session_scope(session_factory) as session:
        xcoms.set_xcom(session, key, "before_deferring", "kept")
        assert task_instances.transition(
            session, key, expected_state=TI.SCHEDULED, target_state=TI.QUEUED, expected_try=1
        )
    claimed = Reporter(session_factory, key, 1).claim(hostname="w2", pid=2)
    assert claimed is not None
    assert (claimed.next_method, claimed.next_kwargs) == (
        "execute_complete",
        {"n": 1, "event": "2024-03-01T00:00:00+00:00"},
    )
    resumed = _row(session_factory, key)
    assert (resumed.state, resumed.try_number, resumed.start_date) == ("running", 1, started)
    with session_scope(session_factory) as session:
        assert xcoms.find_xcom(session, key.dag_id, key.run_id, key.task_id, "before_deferring") == (True, "kept")


def test_a_failed_trigger_and_a_timed_out_wait_resume_the_task_to_fail(
    metastore_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    failing, waiting = _defer_tasks(session_factory, 2, timeout_at=datetime.now(UTC) + timedelta(minutes=5))
    triggerer, runner = _triggerer(metastore_settings, session_factory)
    triggerer.tick(datetime.now(UTC))
    failing_trigger = _row(session_factory, failing).trigger_id
    runner.outcomes = [Failed(failing_trigger, "Trigger failure", ["Traceback ...\n", "RuntimeError: no\n"])]
    triggerer.tick(datetime.now(UTC) + timedelta(minutes=10))
    failed, timed_out = _row(session_factory, failing), _row(session_factory, waiting)
    assert (failed.state, failed.next_method) == ("scheduled", "__fail__")
    assert failed.next_kwargs == {"error": "Trigger failure", "traceback": ["Traceback ...\n", "RuntimeError: no\n"]}
    assert (timed_out.state, timed_out.next_method, timed_out.next_kwargs) == (
        "scheduled",
        "__fail__",
        {"error": "Trigger timeout"},
    )
    assert _holders(session_factory) == []


def test_clearing_a_deferred_task_drops_its_trigger(
    metastore_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    (key,) = _defer_tasks(session_factory, 1)
    triggerer, runner = _triggerer(metastore_settings, session_factory)
    triggerer.tick(datetime.now(UTC))
    assert len(runner.running) == 1
    with session_scope(session_factory) as session:
        assert task_instances.transition(session, key, expected_state=TI.DEFERRED, target_state=TI.NONE, manual=True)
    triggerer.tick(datetime.now(UTC))
    assert runner.running == {} and _holders(session_factory) == []
    assert _row(session_factory, key).state == "none"


@pytest.mark.parametrize("include_deferred", [False, True])
def test_a_deferred_task_takes_a_pool_slot_only_where_the_pool_counts_deferred_tasks(
    metastore_settings: Settings, session_factory: sessionmaker[Session], include_deferred: bool
) -> None:
    (key,) = _defer_tasks(session_factory, 1)
    with session_scope(session_factory) as session:
        pools.set_pool(session, "narrow", 1, include_deferred=include_deferred)
        session.execute(update(TaskInstance).values(pool="narrow"))
    with session_scope(session_factory) as session:
        usage = next(u for u in pools.pool_usage(session) if u.pool.pool == "narrow")
        slots, held = pools.slot_limits(session)
    assert usage.deferred == 1 and slots["narrow"] == 1
    if include_deferred:
        assert (usage.occupied, usage.free, held) == (1, 0, {"narrow": 1})
    else:
        assert (usage.occupied, usage.free, held) == (0, 1, {})
