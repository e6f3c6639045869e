"""Engines and sessions for the metastore, built from ``Settings``; a clear error for a dead database."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from tradewind.errors import ConfigurationError, MetastoreError
from tradewind.redaction import redact
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_CONNECT_TIMEOUT_S = 10
#: libpq options bounding how long a dead or unreachable PostgreSQL can hold up a caller.
POSTGRES_SOCKET_OPTIONS: dict[str, int] = {
    "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    # Data unacknowledged this long (ms) closes the connection: a partition fails a query in seconds.
    "tcp_user_timeout": 20_000,
}


def create_engine_from_settings(settings: Settings, *, threads: int | None = None) -> Engine:
    """The engine for ``settings.resolved_database_url``, tuned for the backend it names; its sessions
    encrypt secret values with ``settings.fernet_key``. ``threads``: how many threads of the process
    use it at once (a worker's slots, each with a heartbeat thread beside it), so that no thread
    waits for a pooled connection; SQLAlchemy's default pool (5, and 10 more at peaks) otherwise."""
    from tradewind.metastore import secret_values

    engine = _create_engine(settings, threads)
    secret_values.use_keys(engine, settings.fernet_key)
    return engine


def _create_engine(settings: Settings, threads: int | None = None) -> Engine:
    try:
        url = sa.make_url(settings.resolved_database_url)
    except ArgumentError:
        raise ConfigurationError("TRADEWIND_DATABASE_URL is not a valid SQLAlchemy URL") from None
    if url.drivername in ("postgresql", "postgres"):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; tradewind ships psycopg2.
        url = url.set(drivername="postgresql+psycopg2")
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(f"the metastore runs on PostgreSQL or SQLite, not {backend}: {redact(url)}")
    try:
        if backend == "sqlite":
            return _sqlite_engine(url, settings.sql_echo)
        connect_args: dict[str, Any] = {}
        if url.get_driver_name() == "psycopg2":
            # A host that drops packets would otherwise hang a connect for minutes, and a query on a
            # connection whose peer vanished for a quarter of an hour (TCP's retransmission limit).
            for name, value in POSTGRES_SOCKET_OPTIONS.items():
                if name not in url.query:
                    connect_args[name] = value
        pool: dict[str, int] = {} if threads is None else {"pool_size": threads // 2, "max_overflow": threads}
        return sa.create_engine(url, echo=settings.sql_echo, pool_pre_ping=True, connect_args=connect_args, **pool)
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigurationError(
            f"TRADEWIND_DATABASE_URL names a database driver that is not installed ({exc}): {redact(url)}"
        ) from None


def _sqlite_engine(url: URL, echo: bool) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MetastoreError(f"cannot create the folder of the metastore at {redact(url)}: {exc}") from exc
    # The scheduler, workers and webserver share one file from several threads and processes.
    engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout makes a second writer wait for the lock instead of failing at once; foreign
        # keys are off in SQLite by default, and the run-delete cascades depend on them.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """WAL lets the web UI read while the scheduler writes. The mode is stored in the file, so only
    the first connection to a new file switches it; that switch needs an exclusive lock and SQLite
    does not wait for it, so several processes opening a new file at once retry here."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit (entry points return them)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for one unit of work of an entry point: commit on success, rollback on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_after_fork(engine: Engine, *, parent_single_threaded: bool = False) -> None:
    """Call in a forked child before it touches the database.

    The child inherits the parent's pooled connections (sockets); using them from two processes
    corrupts both. ``close=False`` drops the child's references without closing the parent's sockets.
    Forked from a process of one thread whose pool holds no connection (the worker's fork server),
    there is nothing to drop and no lock of the pool can have been held at the fork: the pool is
    left as it is, which spares each task's process a millisecond of rebuilding it.
    """
    pool = engine.pool
    idle = isinstance(pool, QueuePool) and pool.checkedin() == 0 and pool.checkedout() == 0
    if parent_single_threaded and idle:
        return
    engine.dispose(close=False)


def check_connection(engine: Engine) -> None:
    """Open one connection and run ``SELECT 1``; raise a ``MetastoreError`` naming the URL if that fails."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except DBAPIError as exc:
        raise unreachable_error(engine, exc) from exc


def unreachable_error(engine: Engine | Connection, exc: BaseException) -> MetastoreError:
    """The ``MetastoreError`` for a database that refused or dropped a connection."""
    url = engine.engine.url
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    reason = lines[0] if lines else type(original).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return MetastoreError(f"cannot reach the metastore at {redact(url)}: {reason}")
