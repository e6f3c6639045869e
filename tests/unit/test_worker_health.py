"""A worker judges its own health: it is unhealthy when it cannot reach its broker, has lost its
consumer's connection, or stops consuming while messages wait beside a free slot — and healthy
again as soon as that ends. No sockets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tradewind.settings import Settings
from tradewind.worker.consumer import BrokerLink
from tradewind.worker.health import HealthJudge, HealthSample
from tradewind.worker.monitor import HealthReport, WorkerHealthMonitor

IDLE = HealthSample(
    now=100.0, broker_error=None, consumer_connected=True, waiting=0, busy=0, concurrency=4, last_received=None
)


def test_an_idle_worker_with_nothing_to_do_is_healthy():
    assert HealthJudge(stall_after=15).judge(IDLE) is None


def test_a_worker_that_cannot_reach_its_broker_is_unhealthy_without_naming_the_host():
    problem = HealthJudge(stall_after=15).judge(replace(IDLE, broker_error="Error 111 connecting to 10.0.0.5:6379"))
    assert problem == "cannot reach the broker"


def test_a_consumer_that_lost_its_connection_is_unhealthy_until_it_reconnects():
    judge = HealthJudge(stall_after=15)
    assert judge.judge(replace(IDLE, consumer_connected=False)) == "lost its broker connection; reconnecting"
    assert judge.judge(replace(IDLE, now=102.0)) is None


def test_messages_waiting_beside_a_free_slot_with_nothing_received_become_a_stall_after_the_threshold():
    judge = HealthJudge(stall_after=15)
    waiting = replace(IDLE, waiting=12, busy=1, last_received=50.0)
    assert judge.judge(waiting) is None
    assert judge.judge(replace(waiting, now=110.0)) is None
    problem = judge.judge(replace(waiting, now=116.0))
    assert problem is not None and problem.startswith("not consuming: 12 message(s) wait in its queues")
    assert "3 of 4 slots are free" in problem and "16 s" in problem


def test_a_worker_that_keeps_receiving_while_messages_wait_is_not_stalled():
    judge = HealthJudge(stall_after=15)
    for now in range(100, 200, 5):
        assert judge.judge(replace(IDLE, now=float(now), waiting=30, busy=3, last_received=now - 1.0)) is None


@pytest.mark.parametrize(
    "sample",
    [
        replace(IDLE, waiting=12, busy=4),  # every slot busy: waiting is expected
        replace(IDLE, waiting=0, busy=0),  # nothing to do
        replace(IDLE, waiting=None),  # depth unknown
    ],
)
def test_waiting_messages_are_no_stall_when_the_worker_is_full_or_has_nothing_to_take(sample: HealthSample):
    judge = HealthJudge(stall_after=15)
    for now in (100.0, 130.0, 200.0):
        assert judge.judge(replace(sample, now=now)) is None


def test_a_stall_ends_as_soon_as_a_message_is_received():
    judge = HealthJudge(stall_after=5)
    waiting = replace(IDLE, waiting=3, last_received=10.0)
    judge.judge(waiting)
    assert judge.judge(replace(waiting, now=106.0)) is not None
    assert judge.judge(replace(waiting, now=107.0, last_received=106.5)) is None


def test_the_broker_link_counts_reconnects_after_the_first_connection():
    link = BrokerLink()
    link.on_connected()
    assert (link.connected, link.reconnects) == (True, 0)
    link.on_lost(ConnectionError("Connection closed by server."))
    assert (link.connected, link.last_error) == (False, "Connection closed by server.")
    link.on_connected()
    link.on_lost(ConnectionError(""))
    link.on_connected()
    assert (link.connected, link.reconnects, link.last_error) == (True, 2, None)


class FakeProbe:
    """A broker that answers with the queue depths the test sets, or fails with ``error``."""

    def __init__(self) -> None:
        self.waiting = 0
        self.error: Exception | None = None

    def depths(self, queues: list[str]) -> dict[str, int]:
        if self.error is not None:
            raise self.error
        return {queue: self.waiting for queue in queues}

    def close(self) -> None:
        pass


def test_the_monitor_reports_a_worker_that_stops_receiving_while_messages_wait_and_its_recovery():
    clock = [100.0]
    probe = FakeProbe()
    link = BrokerLink()
    link.on_connected()
    monitor = WorkerHealthMonitor(
        Settings(),
        link,
        queues=["default"],
        concurrency=4,
        stall_after=15,
        probe=probe,
        clock=lambda: clock[0],
        busy=lambda: 0,
    )
    assert monitor.check() == HealthReport(None, 0)
    probe.waiting = 7
    for clock[0] in (105.0, 110.0):
        assert monitor.check().problem is None
    clock[0] = 121.0
    assert monitor.check().problem.startswith("not consuming: 7 message(s) wait")
    clock[0] = 122.0
    monitor._on_received()
    assert monitor.check().problem is None
    probe.error = ConnectionError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")
    link.on_lost(probe.error)
    assert monitor.check().problem == "cannot reach the broker"
    probe.error = None
    link.on_connected()
    assert monitor.check() == HealthReport(None, 1)
