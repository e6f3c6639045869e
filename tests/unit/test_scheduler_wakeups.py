"""How the scheduler's loop turns events into ticks: a person's action wakes it at once, while a
busy cluster's stream of "task ended" events is taken a tick at a time, not one tick per task —
where the workers plan their runs themselves (a PostgreSQL metastore)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tradewind.actions.wake import SchedulerWaker
from tradewind.master.executor.base import QueueItem
from tradewind.master.scheduler import loop
from tradewind.master.scheduler.loop import Scheduler
from tradewind.queue.events import Event
from tradewind.settings import Settings

#: Every wait below ends long before this; a broken loop fails the test instead of hanging it.
BOUND_S = 10.0


class ScriptedBus:
    """An event bus whose events arrive at set times after it is made (monotonic seconds)."""

    def __init__(self, script: list[tuple[float, Event]]) -> None:
        self.started = time.monotonic()
        self.script = sorted(script, key=lambda item: item[0])
        self.waits = 0

    def publish_task_ended(self, dag_id: str, run_id: str) -> None:
        raise AssertionError("the scheduler does not publish")

    def publish_state_changed(self, dag_id: str, run_id: str) -> None:
        raise AssertionError("the scheduler does not publish")

    def wait(self, timeout: float) -> list[Event]:
        self.waits += 1
        deadline = time.monotonic() + max(timeout, 0.0)
        if self.script:
            arrival = self.started + self.script[0][0]
            if arrival <= deadline:
                time.sleep(max(0.0, arrival - time.monotonic()))
                now = time.monotonic() - self.started
                due = [event for at, event in self.script if at <= now]
                self.script = self.script[len(due) :]
                return due
        time.sleep(max(0.0, deadline - time.monotonic()))
        return []

    def close(self) -> None:
        return None


class NoExecutor:
    def send(self, items: list[QueueItem]) -> list[QueueItem]:
        raise AssertionError("nothing is queued in these stories")


class RecordingScheduler(Scheduler):
    """The loop as it runs, with each tick recorded instead of done; stops after ``ticks`` ticks.
    Each tick asks to be woken in ``delay`` seconds at the latest."""

    def __init__(
        self,
        tmp_path: Path,
        bus: ScriptedBus,
        stop: threading.Event,
        *,
        ticks: int,
        delay: float = 5.0,
        workers_follow_up: bool = True,
    ) -> None:
        super().__init__(
            Settings(home=tmp_path),
            None,  # type: ignore[arg-type]
            NoExecutor(),  # type: ignore[arg-type]
            bus,
            gather_task_ended=workers_follow_up,
        )
        self.stop, self.limit, self.delay = stop, ticks, delay
        self.seen: list[tuple[float, list[Event]]] = []

    def start(self, now: object = None) -> None:
        return None

    def close(self) -> None:
        return None

    def tick(self, now: object, *, events: object = ()) -> float:
        self.seen.append((time.monotonic(), list(events)))  # type: ignore[call-overload]
        if len(self.seen) >= self.limit:
            self.stop.set()
        return self.delay


def ended(run: str) -> Event:
    return Event("task_ended", "etl", run)


def run_loop(scheduler: RecordingScheduler) -> None:
    worker = threading.Thread(target=scheduler.run, args=(scheduler.stop,), daemon=True)
    worker.start()
    worker.join(BOUND_S)
    assert not worker.is_alive(), "the loop did not reach its last tick"


def test_a_burst_of_ended_tasks_is_taken_in_a_few_ticks_and_no_event_is_lost(tmp_path: Path):
    # Forty tasks of one run end 5 ms apart (a wide fan-out on a busy worker): 0.2 s of events.
    script = [(0.05 + i * 0.005, ended(f"run_{i % 4}")) for i in range(40)]
    bus = ScriptedBus(script)
    stop = threading.Event()
    scheduler = RecordingScheduler(tmp_path, bus, stop, ticks=4)
    run_loop(scheduler)

    delivered = [event for _, events in scheduler.seen for event in events]
    assert delivered == [event for _, event in script], "every event reaches a tick, in order"
    # The first tick is the loop's start; the 0.2 s of events take at most three more ticks,
    # each at least the interval after the one before, instead of forty.
    woken = [at for at, _ in scheduler.seen[1:]]
    assert all(b - a >= loop.TASK_ENDED_TICK_INTERVAL_S * 0.9 for a, b in zip(woken, woken[1:], strict=False))


def test_a_person_s_action_wakes_the_scheduler_without_waiting_for_the_interval(tmp_path: Path):
    # A task ends, and 10 ms later somebody triggers a run: the tick after the trigger comes at once.
    trigger = Event("state_changed", "etl", "manual__1")
    bus = ScriptedBus([(0.05, ended("scheduled__1")), (0.06, trigger)])
    stop = threading.Event()
    scheduler = RecordingScheduler(tmp_path, bus, stop, ticks=2)
    run_loop(scheduler)

    (_, _), (second, events) = scheduler.seen
    assert events == [ended("scheduled__1"), trigger]
    assert second - (bus.started + 0.06) < loop.TASK_ENDED_TICK_INTERVAL_S / 3, "the trigger waited"


def test_a_lone_ended_task_after_a_quiet_spell_wakes_the_scheduler_at_once(tmp_path: Path):
    # Nothing for a while, then one task ends: the scheduler is not held back by an interval
    # that has long passed.
    bus = ScriptedBus([(0.3, ended("scheduled__1"))])
    stop = threading.Event()
    scheduler = RecordingScheduler(tmp_path, bus, stop, ticks=2)
    run_loop(scheduler)

    (_, _), (second, events) = scheduler.seen
    assert events == [ended("scheduled__1")]
    assert second - (bus.started + 0.3) < loop.TASK_ENDED_TICK_INTERVAL_S / 2


def test_a_tick_that_asks_to_come_back_sooner_than_the_interval_is_not_held_back(tmp_path: Path):
    # The tick has more to do at once (or a retry is due in 20 ms): a task ending meanwhile does
    # not make it wait out the interval.
    bus = ScriptedBus([(0.01, ended("scheduled__1")), (0.05, ended("scheduled__2"))])
    stop = threading.Event()
    scheduler = RecordingScheduler(tmp_path, bus, stop, ticks=3, delay=0.02)
    run_loop(scheduler)

    (first, _), (second, events), (third, _) = scheduler.seen
    assert events == [ended("scheduled__1")]
    assert second - first < 0.02 + loop.TASK_ENDED_TICK_INTERVAL_S / 3
    assert third - second < 0.02 + loop.TASK_ENDED_TICK_INTERVAL_S / 3


def test_without_workers_that_follow_up_every_ended_task_wakes_the_scheduler_at_once(tmp_path: Path):
    # On SQLite the scheduler alone moves runs on: each ended task gets its own tick straight away.
    bus = ScriptedBus([(0.05, ended("scheduled__1")), (0.07, ended("scheduled__2"))])
    stop = threading.Event()
    scheduler = RecordingScheduler(tmp_path, bus, stop, ticks=3, workers_follow_up=False)
    run_loop(scheduler)

    (_, _), (second, first_events), (third, second_events) = scheduler.seen
    assert (first_events, second_events) == ([ended("scheduled__1")], [ended("scheduled__2")])
    assert third - (bus.started + 0.07) < loop.TASK_ENDED_TICK_INTERVAL_S / 3


@pytest.mark.parametrize(
    "broker_url",
    [
        "redis://[::1/0",  # malformed: the URL cannot even be split
        "redis://127.0.0.1:notaport/0",
        "filesystem://",  # not Redis: nobody to wake, the timer covers it
        None,
    ],
)
def test_a_broken_or_missing_broker_url_costs_the_wake_up_never_the_action(broker_url: str | None):
    with SchedulerWaker(broker_url) as waker:
        waker.wake("etl", ["manual__1"])
        waker.wake_runs([("etl", ""), ("other", "scheduled__1")])


def test_a_dead_redis_costs_the_wake_up_never_the_action():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with SchedulerWaker(f"redis://127.0.0.1:{port}/0") as waker:
        waker.wake("etl", ["manual__1"])
