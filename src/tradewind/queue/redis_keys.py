"""Names of the Redis keys and channels tradewind uses besides Celery's own queues, and how to
tell a broker URL that names Redis."""

from __future__ import annotations

from urllib.parse import urlsplit

#: Published when a task instance ends (success, failure, skip, retry…): wakes the schedulers.
TASK_ENDED_CHANNEL = "tradewind:events:task_ended"
#: Published when a person or the API changes something a scheduler should act on at once.
STATE_CHANGED_CHANNEL = "tradewind:events:state_changed"


def is_redis_url(url: str | None) -> bool:
    """Whether ``url`` names a Redis server (``redis://`` or ``rediss://``)."""
    return bool(url) and urlsplit(url or "").scheme in ("redis", "rediss")
