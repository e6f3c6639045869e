"""A worker judges its own health: it is unhealthy when it cannot reach its broker, has lost its
consumer's connection, or stops consuming while messages wait beside a free slot — and healthy
again as soon as that ends. No sockets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tradewind.worker.consumer import BrokerLink
from tradewind.worker.health import HealthJudge, HealthSample

IDLE = HealthSample(now=100.0, broker_error=None, consumer_connected=True, waiting=0, busy=0, concurrency=4,
                    last_received=None)


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


@pytest.mark.parametrize("sample", [
    replace(IDLE, waiting=12, busy=4),  # every slot busy: waiting is expected
    replace(IDLE, waiting=0, busy=0),  # nothing to do
    replace(IDLE, waiting=None),  # depth unknown
])
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
