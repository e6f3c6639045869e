"""A worker's slot hands its "task ended" event to a publishing thread and goes on to its next
task: a slow or unreachable Redis costs the scheduler's wake-up, never the slot's time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tradewind.queue.events import Event, PublishingInBackground


class _SlowBus:
    """An event bus whose publishing blocks until ``release`` is set (Redis behind a dead network)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.published: list[tuple[str, str, str]] = []
        self.closed = False

    def publish_task_ended(self, dag_id: str, run_id: str) -> None:
        self.release.wait(10)
        self.published.append(("task_ended", dag_id, run_id))

    def publish_state_changed(self, dag_id: str, run_id: str) -> None:
        self.release.wait(10)
        self.published.append(("state_changed", dag_id, run_id))

    def wait(self, timeout: float) -> list[Event]:
        return []

    def close(self) -> None:
        self.closed = True


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_publishing_returns_at_once_while_redis_does_not_answer() -> None:
    bus = _SlowBus()
    publisher = PublishingInBackground(bus)
    started = time.monotonic()
    for n in range(50):
        publisher.publish_task_ended("etl", f"run_{n}")
    assert time.monotonic() - started < 1.0, "a slot waited for Redis"
    bus.release.set()
    _wait_for(lambda: len(bus.published) == 50, "the 50 events to be published")
    assert bus.published == [("task_ended", "etl", f"run_{n}") for n in range(50)]
    publisher.close()
    assert bus.closed


def test_an_event_already_waiting_is_not_published_twice() -> None:
    bus = _SlowBus()
    publisher = PublishingInBackground(bus)
    publisher.publish_task_ended("etl", "blocker")  # the thread is stuck publishing this one
    _wait_for(lambda: not publisher._pending, "the first event to be taken")
    for _ in range(10):
        publisher.publish_task_ended("etl", "run_1")
    publisher.publish_state_changed("etl", "run_1")
    bus.release.set()
    publisher.close()
    assert bus.published == [
        ("task_ended", "etl", "blocker"),
        ("task_ended", "etl", "run_1"),
        ("state_changed", "etl", "run_1"),
    ]


def test_past_the_limit_new_events_are_dropped_and_the_rest_still_go_out() -> None:
    bus = _SlowBus()
    publisher = PublishingInBackground(bus, max_pending=3)
    publisher.publish_task_ended("etl", "blocker")
    _wait_for(lambda: not publisher._pending, "the first event to be taken")
    for n in range(10):
        publisher.publish_task_ended("etl", f"run_{n}")
    bus.release.set()
    publisher.close()
    assert bus.published == [("task_ended", "etl", name) for name in ("blocker", "run_0", "run_1", "run_2")]


def test_close_publishes_what_waits_then_closes_the_bus_and_ignores_later_events() -> None:
    bus = _SlowBus()
    bus.release.set()
    publisher = PublishingInBackground(bus)
    publisher.publish_task_ended("etl", "run_1")
    publisher.close()
    assert bus.published == [("task_ended", "etl", "run_1")]
    assert bus.closed
    publisher.publish_task_ended("etl", "run_2")
    assert publisher._thread is not None and not publisher._thread.is_alive()  # no one left to publish it
    assert not publisher._pending
    assert bus.published == [("task_ended", "etl", "run_1")]


def test_close_gives_up_within_its_time_when_redis_does_not_answer() -> None:
    """A worker shutting down while Redis hangs waits for its events no longer than the close's
    time; what was still waiting is dropped, never published on the closed bus."""
    bus = _SlowBus()
    publisher = PublishingInBackground(bus)
    for n in range(5):
        publisher.publish_task_ended("etl", f"run_{n}")
    started = time.monotonic()
    publisher.close(timeout=0.2)
    assert time.monotonic() - started < 2.0 and bus.closed
    bus.release.set()  # Redis answers again: the event being published goes out, nothing after it
    assert publisher._thread is not None
    publisher._thread.join(5)
    assert not publisher._thread.is_alive()
    assert bus.published == [("task_ended", "etl", "run_0")]
