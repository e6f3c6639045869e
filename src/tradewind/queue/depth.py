"""How many messages wait in given queues, asked of the broker directly and quickly.

The worker's health monitor uses it to tell "idle because there is nothing to do" from "not
consuming while work waits", and to notice a broker it cannot reach. A Redis queue is a list
named after the queue (kombu's layout for messages without a priority); the embedded broker's
queue is the set of ``*.<queue>.msg`` files in its folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tradewind.queue.app import embedded_broker_folders
from tradewind.queue.redis_keys import is_redis_url
from tradewind.settings import Settings

#: Seconds a depth probe may take before the broker counts as unreachable.
PROBE_TIMEOUT_S = 3.0


class QueueDepthProbe:
    """Asks one broker for queue lengths; keeps its connection between calls."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None

    def depths(self, queues: Sequence[str]) -> dict[str, int]:
        """queue -> messages waiting; raises the client's error when the broker does not answer."""
        if is_redis_url(self.settings.broker_url):
            return self._redis_depths(queues)
        folder = embedded_broker_folders(self.settings)["data"]
        names = [path.name for path in folder.iterdir()]
        return {queue: sum(1 for name in names if name.endswith(f".{queue}.msg")) for queue in queues}

    def _redis_depths(self, queues: Sequence[str]) -> dict[str, int]:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(
                self.settings.broker_url or "", socket_timeout=PROBE_TIMEOUT_S, socket_connect_timeout=PROBE_TIMEOUT_S
            )
        pipe = self._client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
        return dict(zip(queues, (int(n) for n in pipe.execute()), strict=True))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
