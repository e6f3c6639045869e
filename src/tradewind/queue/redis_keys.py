"""Names of the Redis keys and channels tradewind uses besides Celery's own queues."""

from __future__ import annotations

#: Published when a task instance ends (success, failure, skip, retry…): wakes the schedulers.
TASK_ENDED_CHANNEL = "tradewind:events:task_ended"
#: Published when a person or the API changes something a scheduler should act on at once.
STATE_CHANGED_CHANNEL = "tradewind:events:state_changed"
