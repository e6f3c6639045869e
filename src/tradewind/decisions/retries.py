"""When a failed try is retried, and after how long: the pure rule every role shares.

The worker decides the state a failed try ends in; the scheduler decides when a retry is due.
Both call these functions, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tradewind.states import TaskInstanceState as TI

#: Longest wait between tries when a task sets no max_retry_delay (Airflow's cap).
DEFAULT_MAX_RETRY_DELAY_S = 24 * 60 * 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """A task's retry settings, in seconds: what decides when its next try may start."""

    retry_delay_s: float = 0.0
    retry_exponential_backoff: bool = False
    max_retry_delay_s: float | None = None

    @classmethod
    def from_task(cls, task: Any) -> RetryPolicy:
        """The settings of a live task (its delays are timedeltas) or a serialized one (seconds)."""
        return cls(
            _seconds(getattr(task, "retry_delay", None)) or 0.0,
            bool(getattr(task, "retry_exponential_backoff", False)),
            _seconds(getattr(task, "max_retry_delay", None)),
        )


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def retry_delay_for(policy: RetryPolicy, try_number: int) -> float:
    """Seconds to wait after failed try ``try_number`` (1-based) before the next one.

    Without backoff: ``retry_delay_s``. With exponential backoff: ``retry_delay_s * 2**(try_number-1)``,
    capped by ``max_retry_delay_s`` (24 h when unset) — deterministic, without Airflow's hash jitter.
    """
    base = max(0.0, float(policy.retry_delay_s))
    if not policy.retry_exponential_backoff:
        return base
    cap = policy.max_retry_delay_s if policy.max_retry_delay_s is not None else DEFAULT_MAX_RETRY_DELAY_S
    exponent = max(0, try_number - 1)
    if base == 0.0:
        return 0.0
    # Past 2**1023 a float overflows; any such delay is far beyond every cap anyway.
    if exponent >= 1000 or base * 2.0**exponent > cap:
        return float(cap)
    return base * 2.0**exponent


def decide_failure(
    policy: RetryPolicy, try_number: int, max_tries: int, now: datetime, *, fail_fast: bool
) -> tuple[TI, datetime | None]:
    """The state after try ``try_number`` failed: a retry while tries remain, else failed.

    As Airflow: with ``max_tries`` = retries, try 1 of a task with one retry is retried, try 2 fails.
    ``fail_fast`` (AirflowFailException, a sensor timeout) fails at once.
    """
    if not fail_fast and max_tries > 0 and try_number <= max_tries:
        return TI.UP_FOR_RETRY, now + timedelta(seconds=retry_delay_for(policy, try_number))
    return TI.FAILED, None
