"""The login back-off as a table: how long an attempt waits after so many failures, and when the
failures are forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind.decisions.login_backoff import BackoffPolicy, FailureCount, backoff_after, wait_seconds

POLICY = BackoffPolicy(free_failures=5, first_wait=1.0, longest_wait=300.0, forget_after=3600.0)
NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(0, 0.0), (4, 0.0), (5, 1.0), (6, 2.0), (7, 4.0), (13, 256.0), (14, 300.0), (10_000, 300.0)],
)
def test_the_wait_doubles_after_the_free_failures_up_to_the_longest(failures: int, wait: float) -> None:
    assert backoff_after(failures, POLICY) == wait


@pytest.mark.parametrize(
    ("failures", "seconds_ago", "wait"),
    [
        (5, 0.0, 1.0),  # just failed for the fifth time: wait a second
        (5, 0.4, 0.6),
        (5, 1.0, 0.0),  # the wait is over
        (8, 3.0, 5.0),
        (4, 0.0, 0.0),  # still among the free failures
        (50, 3599.0, 0.0),  # long past the longest wait
        (50, 3600.0, 0.0),  # forgotten
    ],
)
def test_an_attempt_waits_what_is_left_of_the_back_off(failures: int, seconds_ago: float, wait: float) -> None:
    count = FailureCount(failures, NOW - timedelta(seconds=seconds_ago))
    assert wait_seconds(count, NOW, POLICY) == pytest.approx(wait)


def test_an_account_without_failures_never_waits() -> None:
    assert wait_seconds(None, NOW, POLICY) == 0.0
