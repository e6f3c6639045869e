"""How long a login attempt must wait after failed ones: the back-off of every login path.

A counter of consecutive failures is kept per account and per address. The first
``free_failures`` cost nothing; after that each attempt waits ``first_wait`` seconds from the last
failure, doubling with each further failure up to ``longest_wait``. A counter whose last failure
is ``forget_after`` seconds old counts as zero again, and a successful login clears its account's
counter. Plain data and ``now`` in, seconds out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: 2 ** 60 seconds is far beyond any ``longest_wait``; the exponent stops there so it never overflows.
_MAX_DOUBLINGS = 60


@dataclass(frozen=True)
class BackoffPolicy:
    """When one counter (an account's, or an address's) starts making attempts wait, and how long."""

    free_failures: int
    first_wait: float
    longest_wait: float
    forget_after: float


@dataclass(frozen=True)
class FailureCount:
    """A counter as stored: consecutive failures and the time of the last one."""

    failures: int
    last_failure_at: datetime


def live_failures(count: FailureCount | None, now: datetime, policy: BackoffPolicy) -> int:
    """The failures that still count at ``now`` (0 once the last one is ``forget_after`` old)."""
    if count is None or now - count.last_failure_at >= timedelta(seconds=policy.forget_after):
        return 0
    return count.failures


def backoff_after(failures: int, policy: BackoffPolicy) -> float:
    """Seconds an attempt must wait after the last of ``failures`` consecutive failures."""
    if failures < policy.free_failures:
        return 0.0
    doublings = min(failures - policy.free_failures, _MAX_DOUBLINGS)
    return float(min(policy.first_wait * 2**doublings, policy.longest_wait))


def wait_seconds(count: FailureCount | None, now: datetime, policy: BackoffPolicy) -> float:
    """Seconds before an attempt may be checked at all; 0.0: check it now."""
    failures = live_failures(count, now, policy)
    if count is None or failures == 0:
        return 0.0
    elapsed = (now - count.last_failure_at).total_seconds()
    return max(0.0, backoff_after(failures, policy) - elapsed)


def forget_before(now: datetime, policy: BackoffPolicy) -> datetime:
    """Counters whose last failure is older than this count as zero (and may be deleted)."""
    return now - timedelta(seconds=policy.forget_after)
