"""Web users: who may log in, with which role, their hashed password and their hashed API token.

Passwords are hashed with Werkzeug's ``generate_password_hash`` (scrypt by default; the method is
stored in the hash, so a cheaper or a FIPS-friendly method can be chosen per user). An API token
is a long random secret of which only the SHA-256 is stored: a token is looked up by its hash, so
it must have the entropy a password lacks, and it does.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from tradewind.errors import UserAlreadyExists, UserNotFound
from tradewind.metastore import web_sessions
from tradewind.metastore.models import User

#: Roles from least to most allowed; each role may do everything the ones before it may.
ROLES: tuple[str, ...] = ("Viewer", "Op", "Admin")
DEFAULT_HASH_METHOD = "scrypt"
TOKEN_PREFIX = "tw1"
MAX_USERNAME_LENGTH = 256


def role_rank(role: str) -> int:
    """The role's place in ``ROLES`` (higher may do more); -1 for a role tradewind does not know."""
    return ROLES.index(role) if role in ROLES else -1


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    email: str | None = None,
    hash_method: str = DEFAULT_HASH_METHOD,
    now: datetime | None = None,
) -> User:
    """Add a user; raises ``UserAlreadyExists`` when the name is taken, ``ValueError`` for bad input."""
    username = _check_username(username)
    check_role(role)
    if get_user_by_name(session, username) is not None:
        raise UserAlreadyExists(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=_hash(password, hash_method),
        role=role,
        email=email or None,
        active=True,
        created_at=now or datetime.now(UTC),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        # Another process added the same name since the check; the caller's transaction is lost.
        raise UserAlreadyExists(f"user {username!r} already exists") from None
    return user


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id, populate_existing=True)


def get_user_by_name(session: Session, username: str) -> User | None:
    return session.scalars(
        select(User).where(User.username == username).execution_options(populate_existing=True)
    ).one_or_none()


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def verify_password(session: Session, username: str, password: str) -> User | None:
    """The active user with that name and password, else None. An unknown name costs as much time
    as a wrong password, so response times do not tell which names exist."""
    user = get_user_by_name(session, username)
    if user is None or not user.password_hash or not user.active:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def set_password(session: Session, username: str, password: str, *, hash_method: str = DEFAULT_HASH_METHOD) -> User:
    """Change the password; every open web session of the user ends."""
    user = _existing(session, username)
    user.password_hash = _hash(password, hash_method)
    web_sessions.end_sessions_of(session, user.id)
    session.flush()
    return user


def end_sessions(session: Session, username: str) -> int:
    """End every open web session of the user (an Admin's "end sessions"); returns how many there were.
    Their API token and basic auth are not affected."""
    return web_sessions.end_sessions_of(session, _existing(session, username).id)


def set_role(session: Session, username: str, role: str) -> User:
    user = _existing(session, username)
    user.role = check_role(role)
    session.flush()
    return user


def change_user(
    session: Session,
    username: str,
    *,
    role: str | None = None,
    email: str | None = None,
    clear_email: bool = False,
    password: str | None = None,
) -> User:
    """Change what is given of a user (the web form and the REST API's PATCH): role, email (or
    clear it), password (which ends their open web sessions). Raises ``UserNotFound`` or ValueError."""
    user = _existing(session, username)
    if role is not None:
        user.role = check_role(role)
    if email is not None or clear_email:
        user.email = email or None
    if password:
        set_password(session, username, password)
    session.flush()
    return user


def delete_user(session: Session, username: str) -> bool:
    """Delete a user; returns whether one existed."""
    user = get_user_by_name(session, username)
    if user is None:
        return False
    session.delete(user)
    session.flush()
    return True


def touch_last_login(session: Session, user: User, *, now: datetime | None = None) -> None:
    user.last_login = now or datetime.now(UTC)
    session.flush()


def issue_api_token(
    session: Session, username: str, *, ttl: timedelta | None = None, now: datetime | None = None
) -> str:
    """A new API token for the user (replacing the previous one), valid for ``ttl`` (None: no expiry).

    The expiry is written into the token itself, ``tw1.<unix expiry or 0>.<secret>``; since the
    stored hash covers the whole token, changing the expiry makes the token unknown.
    """
    user = _existing(session, username)
    expires = 0 if ttl is None else int(((now or datetime.now(UTC)) + ttl).timestamp())
    token = f"{TOKEN_PREFIX}.{expires}.{secrets.token_urlsafe(32)}"
    user.api_token_hash = _token_hash(token)
    session.flush()
    return token


def verify_api_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """The active user holding this unexpired token, else None."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1].isdigit():
        return None
    expires = int(parts[1])
    if expires and (now or datetime.now(UTC)).timestamp() >= expires:
        return None
    user = session.scalars(
        select(User).where(User.api_token_hash == _token_hash(token)).execution_options(populate_existing=True)
    ).one_or_none()
    return user if user is not None and user.active else None


def revoke_api_token(session: Session, username: str) -> None:
    _existing(session, username).api_token_hash = None
    session.flush()


def _existing(session: Session, username: str) -> User:
    user = get_user_by_name(session, username)
    if user is None:
        raise UserNotFound(f"no user named {username!r}")
    return user


def _check_username(username: str) -> str:
    name = (username or "").strip()
    if not name:
        raise ValueError("a user needs a username")
    if len(name) > MAX_USERNAME_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise ValueError(f"username {name!r} must be at most {MAX_USERNAME_LENGTH} printable characters without spaces")
    return name


def _hash(password: str, method: str) -> str:
    if not password:
        raise ValueError("the password must not be empty")
    return generate_password_hash(password, method=method)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=DEFAULT_HASH_METHOD)
