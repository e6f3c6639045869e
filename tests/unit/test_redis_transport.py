"""A worker whose Redis goes away keeps its prefetch credit: an acknowledgement that cannot reach
Redis still frees the slot its message held, so the consumer polls again, meets the dead
connection and reconnects — with kombu's own QoS it would stop consuming for good. No sockets:
the channel here is one whose every Redis call fails as a stopped server's would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from redis.exceptions import ConnectionError as RedisConnectionError

from tradewind.queue.redis_transport import QoS


class StoppedRedis:
    """A client whose pipelines fail on execute, as with a Redis that was shut down."""

    def pipeline(self, transaction: bool = True) -> StoppedRedis:
        return self

    def zrem(self, *args: object) -> StoppedRedis:
        return self

    def hdel(self, *args: object) -> StoppedRedis:
        return self

    def execute(self) -> None:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


class ChannelOfStoppedRedis:
    unacked_key = "unacked"
    unacked_index_key = "unacked_index"
    unacked_mutex_key = "unacked_mutex"
    do_restore = False

    @contextmanager
    def conn_or_acquire(self, client: object = None) -> Iterator[StoppedRedis]:
        yield StoppedRedis()


def _holding_two(qos_class: type) -> virtual.QoS:
    """A worker with two slots, each holding a message it has just finished."""
    qos = qos_class(ChannelOfStoppedRedis(), prefetch_count=2)
    for tag in ("first", "second"):
        virtual.QoS.append(qos, object(), tag)
    assert not qos.can_consume()
    return qos


def test_acks_that_fail_on_a_stopped_redis_still_free_the_worker_slots() -> None:
    qos = _holding_two(QoS)
    for tag in ("first", "second"):
        with pytest.raises(RedisConnectionError):
            qos.ack(tag)
    assert qos.can_consume()


def test_a_reject_that_fails_on_a_stopped_redis_still_frees_the_slot() -> None:
    qos = _holding_two(QoS)
    with pytest.raises(RedisConnectionError):
        qos.reject("first")
    assert qos.can_consume()


def test_kombus_own_qos_keeps_the_slots_of_failed_acks_which_wedges_the_consumer() -> None:
    """The fault repaired here, as kombu ships it: the consumer would never poll again."""
    qos = _holding_two(kombu_redis.QoS)
    for tag in ("first", "second"):
        with pytest.raises(RedisConnectionError):
            qos.ack(tag)
    assert not qos.can_consume()
