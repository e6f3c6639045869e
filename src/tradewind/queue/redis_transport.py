"""kombu's Redis transport, with acknowledgements that cannot wedge a worker when Redis goes away.

The fault it repairs (kombu 5.x): with late acks, a worker acknowledges a message when its task
returns, by removing the message from Redis's unacked index and then, locally, giving back the
prefetch credit the message held. kombu does the Redis step first; when Redis is down it raises,
Celery logs ``Couldn't ack …`` and the local step never happens. Once as many acks have failed as
the worker has prefetch credit (its concurrency), ``QoS.can_consume()`` is False for good: the
consumer never issues another BRPOP, so it never reads the dead socket, never sees a connection
error, and never reconnects. Redis comes back, messages pile up, the worker idles forever.

Here the local step always happens. The failed Redis step is harmless: Redis either lost the
unacked entry with everything else, or restores the message after the visibility timeout, and a
redelivered copy finds its try already claimed (``worker/reporting.py``) and is dropped. With its
credit back, the consumer polls again, meets the dead connection, and Celery's own reconnect loop
takes over (``consumer: Connection to broker lost``), resuming within seconds of Redis's return.

It is also cheaper on every message. kombu builds a new redis-py client for each command it sends
outside the consumer's own (publish, ack, the unacked index on delivery); building one costs more
than the command's round trip. Here each channel keeps one (a redis-py client is thread-safe: each
command takes a connection from the channel's pool). And the two writes that track a message
until it is acked (its entry in the unacked index and in the unacked hash), and the two that drop
it at its ack, each go in one round trip without MULTI/EXEC. Nothing is lost by that:
``restore_visible`` only looks at entries older than the visibility timeout, so it never meets a
delivery's half-written pair; and it restores a message under a WATCH of the unacked hash, so an
ack's delete in between makes the restore abort or find nothing. (Even with MULTI/EXEC a restore
could re-queue a message acked just after it was read; a worker's claim drops such a duplicate.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis  # type: ignore[import-untyped]
from kombu.transport import virtual  # type: ignore[import-untyped]


class QoS(kombu_redis.QoS):  # type: ignore[misc]
    """Redis QoS whose ack and reject give the prefetch credit back even when Redis cannot be reached."""

    @contextmanager
    def pipe_or_acquire(self, pipe: Any = None, client: Any = None) -> Iterator[Any]:
        if pipe:
            yield pipe
        else:
            with self.channel.conn_or_acquire(client) as acquired:
                yield acquired.pipeline(transaction=False)

    def ack(self, delivery_tag: Any) -> None:
        try:
            self._remove_from_indices(delivery_tag).execute()
        finally:
            virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        try:
            if requeue:
                self.restore_by_tag(delivery_tag, leftmost=True)
            else:
                self._remove_from_indices(delivery_tag).execute()
        finally:
            virtual.QoS.ack(self, delivery_tag)


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    QoS = QoS

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        yield client or self._commands_client()

    def close(self) -> None:
        super().close()
        self.__dict__.pop("_cached_commands_client", None)

    def _commands_client(self) -> Any:
        """The client of this channel's commands outside the consumer's: one per connection pool
        (kombu replaces the pool after a fork or a disconnect)."""
        pool = self.pool
        cached = self.__dict__.get("_cached_commands_client")
        if cached is None or cached.connection_pool is not pool:
            cached = self.__dict__["_cached_commands_client"] = self._create_client()
        return cached


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
