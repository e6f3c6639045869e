"""Fixtures for tests against the real PostgreSQL and Redis servers (and SQLite files).

PostgreSQL: postgresql://postgres@127.0.0.1:5432 (trust auth). Redis: redis://127.0.0.1:6379.
When a server is not reachable the tests that need it are skipped, except on CI (``CI=true``),
where they fail: CI must prove the integration, not skip it.

- ``pg_url``: a fresh, uniquely named PostgreSQL database for the whole test session.
- ``fresh_pg_url``: a fresh empty PostgreSQL database for one test.
- ``module_pg_url``: a fresh empty PostgreSQL database shared by the tests of one module.
- ``new_pg_url``: makes fresh empty PostgreSQL databases on demand, for fixtures of any scope.
- ``pg_settings`` / ``sqlite_settings``: ``Settings`` for those databases, home in ``tmp_path``.
- ``metastore_settings``: parametrized over both backends; migrated and holding nothing but
  ``default_pool`` (the shared PostgreSQL database is truncated before each test).
- ``empty_metastore_settings``: parametrized over both backends; never migrated.
- ``metastore_engine`` / ``session_factory``: for ``metastore_settings``.
- ``redis_url``: redis://127.0.0.1:6379/<db>, a database of its own per xdist worker, flushed per test.
- ``dags_folder``: an empty DAG folder in ``tmp_path``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import pools
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
from tradewind.metastore.migrate import migrate
from tradewind.metastore.models import Base
from tradewind.settings import Settings

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
BACKENDS = ["sqlite", "postgresql"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _pg_admin() -> Iterator[Engine]:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    problem = None
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        problem = str(exc.orig).strip().splitlines()[0]
    if problem is not None:
        engine.dispose()
        _unavailable(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable; CI needs it ({problem})")
    yield engine
    engine.dispose()


def _create_database(admin: Engine) -> str:
    name = f"tradewind_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return name


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url(_pg_admin: Engine) -> Iterator[str]:
    name = _create_database(_pg_admin)
    yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    _drop_database(_pg_admin, name)


@pytest.fixture
def fresh_pg_url(_pg_admin: Engine) -> Iterator[str]:
    name = _create_database(_pg_admin)
    yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    _drop_database(_pg_admin, name)


@pytest.fixture(scope="session")
def new_pg_url(_pg_admin: Engine) -> Iterator[Callable[[], str]]:
    names: list[str] = []

    def create() -> str:
        names.append(_create_database(_pg_admin))
        return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{names[-1]}"

    yield create
    for name in names:
        _drop_database(_pg_admin, name)


@pytest.fixture(scope="module")
def module_pg_url(_pg_admin: Engine) -> Iterator[str]:
    name = _create_database(_pg_admin)
    yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    _drop_database(_pg_admin, name)


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    return folder


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, database_url=pg_url)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


@pytest.fixture(params=BACKENDS)
def empty_metastore_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(home=tmp_path)
    return Settings(home=tmp_path, database_url=request.getfixturevalue("fresh_pg_url"))


@pytest.fixture(params=BACKENDS)
def metastore_settings(request: pytest.FixtureRequest) -> Settings:
    fixture = "sqlite_settings" if request.param == "sqlite" else "pg_settings"
    settings: Settings = request.getfixturevalue(fixture)
    migrate(settings)
    if request.param == "postgresql":
        _truncate(settings)
    return settings


def _truncate(settings: Settings) -> None:
    engine = create_engine_from_settings(settings)
    try:
        with engine.begin() as connection:
            tables = ", ".join(
                connection.dialect.identifier_preparer.quote(table.name) for table in Base.metadata.sorted_tables
            )
            connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            session = Session(bind=connection)
            pools.ensure_default_pool(session, settings.default_pool_slots)
            session.flush()
    finally:
        engine.dispose()


@pytest.fixture
def metastore_engine(metastore_settings: Settings) -> Iterator[Engine]:
    engine = create_engine_from_settings(metastore_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(metastore_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(metastore_engine)


def _redis_command(sock: socket.socket, *args: str) -> bytes:
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    sock.sendall(payload.encode())
    return sock.recv(1024)


@pytest.fixture(scope="session")
def _redis_db() -> int:
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    # Database 0 is left to people; each xdist worker gets one of its own of 1..15, counted from
    # TRADEWIND_TEST_REDIS_DB (1 unless set: a test session running beside another sets it apart).
    # Two workers sharing one would take each other's tasks off the queue.
    first = int(os.environ.get("TRADEWIND_TEST_REDIS_DB") or 1)
    db = 1 + (first - 1 + worker) % 15
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=3) as sock:
            reply = _redis_command(sock, "PING")
    except OSError as exc:
        reply = f"{exc}".encode()
    if not reply.startswith(b"+PONG"):
        _unavailable(f"Redis at {REDIS_HOST}:{REDIS_PORT} is not reachable; CI needs it ({reply.decode().strip()})")
    return db


@pytest.fixture
def redis_url(_redis_db: int) -> str:
    with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=3) as sock:
        _redis_command(sock, "SELECT", str(_redis_db))
        _redis_command(sock, "FLUSHDB")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{_redis_db}"
