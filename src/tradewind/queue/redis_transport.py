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
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis  # type: ignore[import-untyped]
from kombu.transport import virtual  # type: ignore[import-untyped]


class QoS(kombu_redis.QoS):  # type: ignore[misc]
    """Redis QoS whose ack and reject give the prefetch credit back even when Redis cannot be reached."""

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


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
