"""Web sessions held in the metastore: a login opens one, logout ends it, and a password change or
an Admin's "end sessions" ends every session of the user.

The browser's signed cookie carries only a random secret; the table holds its SHA-256. A request
is from a logged-in user only while the row exists and has not expired, so a cookie copied before
the session ended is worth nothing afterwards. Finding the user of a request is one read by
primary key, joined to the user's row.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tradewind.metastore.models import User, WebSession
from tradewind.metastore.statements import rows_changed


def open_session(session: Session, user: User, *, lifetime: timedelta, now: datetime) -> str:
    """Start a session for ``user``; returns the secret the cookie carries. Sessions of any user
    that expired by ``now`` are deleted on the way (a login is rare enough to pay for that)."""
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    session.add(WebSession(id=_digest(secret), user_id=user.id, created_at=now, expires_at=now + lifetime))
    session.flush()
    return secret


def user_of(session: Session, secret: str, *, now: datetime) -> User | None:
    """The active user whose unexpired session this secret opens, else None."""
    return session.scalars(
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.id == _digest(secret), WebSession.expires_at > now, User.active.is_(True))
        .execution_options(populate_existing=True)
    ).one_or_none()


def end_session(session: Session, secret: str) -> None:
    """End the session this secret opens (logout)."""
    session.execute(delete(WebSession).where(WebSession.id == _digest(secret)))


def end_sessions_of(session: Session, user_id: int) -> int:
    """End every session of the user; returns how many there were."""
    return rows_changed(session, delete(WebSession).where(WebSession.user_id == user_id))


def open_counts(session: Session, *, now: datetime) -> dict[int, int]:
    """Unexpired sessions per user id (users without one are absent)."""
    rows = session.execute(
        select(WebSession.user_id, func.count()).where(WebSession.expires_at > now).group_by(WebSession.user_id)
    )
    return {user_id: count for user_id, count in rows}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
