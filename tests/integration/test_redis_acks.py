"""A task message on a real Redis, through tradewind's transport: from its delivery to a worker
until that worker acknowledges it, the message is kept aside (so a worker that dies holding it
does not lose it), and the acknowledgement removes it, both halves in one round trip."""

from __future__ import annotations

import pytest
import redis
from kombu import Connection

pytestmark = pytest.mark.integration

TRANSPORT = "tradewind.queue.redis_transport:Transport"


def test_a_delivered_message_is_kept_aside_until_its_ack_removes_it(redis_url: str) -> None:
    server = redis.Redis.from_url(redis_url)
    with Connection(redis_url, transport=TRANSPORT) as connection:
        queue = connection.SimpleQueue("acks_story")
        client = queue.channel._commands_client()
        pipelines = _pipelines_of(client)
        queue.put({"try": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"try": 1}
        # Delivered, not yet acknowledged: held in the unacked hash and its index.
        assert (server.zcard("unacked_index"), server.hlen("unacked")) == (1, 1)
        message.ack()
        assert (server.zcard("unacked_index"), server.hlen("unacked")) == (0, 0)
        # Kept aside at delivery and dropped at the ack: each pair of writes one pipeline, sent
        # in one round trip without MULTI/EXEC.
        assert pipelines == [{"transaction": False}, {"transaction": False}]
        # Nothing is left to redeliver.
        assert server.llen("acks_story") == 0
        queue.close()


def _pipelines_of(client: redis.Redis) -> list[dict[str, object]]:
    """Every pipeline ``client`` makes from now on, as the keyword arguments it was made with."""
    made: list[dict[str, object]] = []
    pipeline = client.pipeline

    def recorded(transaction: bool = True, shard_hint: object = None) -> object:
        made.append({"transaction": transaction})
        return pipeline(transaction=transaction, shard_hint=shard_hint)

    client.pipeline = recorded  # type: ignore[method-assign]
    return made


def test_a_channel_sends_its_commands_through_one_client_on_its_current_pool(redis_url: str) -> None:
    with Connection(redis_url, transport=TRANSPORT) as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second and first.connection_pool is channel.pool
        channel._disconnect_pools()  # as after a fork: the pool is replaced, and so is the client
        with channel.conn_or_acquire() as third:
            assert third is not first and third.connection_pool is channel.pool
            assert third.ping()
