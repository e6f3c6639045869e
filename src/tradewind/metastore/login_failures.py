"""The counters of the login back-off, shared by every webserver process: consecutive failed
logins per account and per client address (``tradewind.decisions.login_backoff`` decides what
they mean). Each change is one atomic statement, so concurrent failures are never lost."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, select, tuple_, update
from sqlalchemy.orm import Session

from tradewind.decisions.login_backoff import FailureCount
from tradewind.metastore.models import LoginFailure
from tradewind.metastore.statements import upsert

ACCOUNT = "account"
ADDRESS = "address"
#: The longest name stored; longer ones (no username can be) are cut, which only merges garbage.
NAME_LENGTH: int = LoginFailure.__table__.c.name.type.length  # type: ignore[attr-defined]

Key = tuple[str, str]


def key(scope: str, name: str) -> Key:
    return scope, name[:NAME_LENGTH]


def counts(session: Session, keys: Sequence[Key]) -> dict[Key, FailureCount]:
    """The stored counters of these keys (a key without failures is absent)."""
    rows = session.execute(
        select(LoginFailure.scope, LoginFailure.name, LoginFailure.failures, LoginFailure.last_failure_at).where(
            tuple_(LoginFailure.scope, LoginFailure.name).in_(list(keys))
        )
    )
    return {(scope, name): FailureCount(failures, last) for scope, name, failures, last in rows}


def add_failure(session: Session, counter: Key, *, now: datetime, forget_before: datetime) -> int:
    """Count one more failure (starting again from 1 when the last one is older than
    ``forget_before``); returns the new count."""
    scope, name = counter
    upsert(
        session,
        LoginFailure,
        {"scope": scope, "name": name, "failures": 0, "last_failure_at": now},
        conflict_on=["scope", "name"],
        update=[],
    )
    where = (LoginFailure.scope == scope, LoginFailure.name == name)
    session.execute(
        update(LoginFailure)
        .where(*where)
        .values(
            failures=case((LoginFailure.last_failure_at < forget_before, 1), else_=LoginFailure.failures + 1),
            last_failure_at=now,
        )
    )
    return int(session.scalars(select(LoginFailure.failures).where(*where)).one())


def forget(session: Session, counter: Key) -> None:
    """Clear a counter (a successful login clears its account's)."""
    scope, name = counter
    session.execute(delete(LoginFailure).where(LoginFailure.scope == scope, LoginFailure.name == name))


def forget_stale(session: Session, *, forget_before: datetime) -> None:
    """Delete the counters that count as zero anyway."""
    session.execute(delete(LoginFailure).where(LoginFailure.last_failure_at < forget_before))
