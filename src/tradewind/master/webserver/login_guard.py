"""The password check of every way in by password — the login form and HTTP basic auth on the
API — behind the login back-off.

Before a password is checked, the counters of the account and of the client's address (shared by
every webserver process through the metastore) say whether the attempt must wait; if so it is
refused with ``LoginThrottled`` (429 and ``Retry-After``) without looking at the password. A
failure adds to both counters and, once it makes attempts wait, is written to the audit log; a
success clears the account's counter. The thresholds are settings (``TRADEWIND_LOGIN_*``).
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from tradewind.decisions.login_backoff import BackoffPolicy, backoff_after, forget_before, wait_seconds
from tradewind.metastore import audit, login_failures, users
from tradewind.metastore.models import User
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

AUDIT_EVENT = "login.throttled"


class LoginThrottled(Exception):
    """Too many failed logins of this account or from this address: try again in ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"Too many failed logins for this account or from this address; try again in {retry_after} s.")


def policies(settings: Settings) -> dict[str, BackoffPolicy]:
    """The back-off of each kind of counter, from the settings."""

    def policy(free_failures: int) -> BackoffPolicy:
        return BackoffPolicy(
            free_failures=free_failures,
            first_wait=settings.login_backoff_seconds,
            longest_wait=settings.login_backoff_max_seconds,
            forget_after=settings.login_failure_window,
        )

    return {
        login_failures.ACCOUNT: policy(settings.login_max_failures),
        login_failures.ADDRESS: policy(settings.login_max_failures_per_address),
    }


def check_password(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    *,
    address: str | None,
    now: datetime | None = None,
) -> User | None:
    """The active user with that name and password, else None; raises ``LoginThrottled`` when the
    attempt must wait. Commits what it records."""
    now = now or datetime.now(UTC)
    by_scope = policies(settings)
    counters = {
        login_failures.key(login_failures.ACCOUNT, username): by_scope[login_failures.ACCOUNT],
        login_failures.key(login_failures.ADDRESS, address or "unknown"): by_scope[login_failures.ADDRESS],
    }
    stored = login_failures.counts(session, list(counters))
    wait = max(wait_seconds(stored.get(counter), now, policy) for counter, policy in counters.items())
    if wait > 0:
        raise LoginThrottled(max(1, math.ceil(wait)))
    user = users.verify_password(session, username, password)
    account = next(iter(counters))
    if user is not None:
        if account in stored:
            login_failures.forget(session, account)
            session.commit()
        return user
    failures = {
        counter: login_failures.add_failure(session, counter, now=now, forget_before=forget_before(now, policy))
        for counter, policy in counters.items()
    }
    login_failures.forget_stale(session, forget_before=forget_before(now, by_scope[login_failures.ACCOUNT]))
    backoff = max(backoff_after(failures[counter], policy) for counter, policy in counters.items())
    if backoff > 0:
        logger.warning("login back-off for %r from %s: %s", username, address, failures)
        audit.record(
            session,
            AUDIT_EVENT,
            owner=username[: login_failures.NAME_LENGTH],
            extra={
                "address": address,
                "account_failures": failures[account],
                "address_failures": failures[list(counters)[1]],
                "wait_seconds": backoff,
            },
            now=now,
        )
    session.commit()
    return None
