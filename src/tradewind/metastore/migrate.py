"""Create, upgrade, reset and check the metastore schema with Alembic, configured in code.

Entry points (``tradewind db migrate``, the cluster's init container, tests) call these with a
``Settings``; each opens its own engine and disposes of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tradewind.errors import MetastoreError
from tradewind.metastore import pools
from tradewind.metastore.engine import (
    check_connection,
    create_engine_from_settings,
    unreachable_error,
)
from tradewind.metastore.models import DEFAULT_POOL, Base
from tradewind.redaction import redact
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
# Any fixed 64-bit number; every tradewind process that migrates takes the same one.
_PG_LOCK_KEY = 0x7472_6164_6577_696E  # "tradewin"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the metastore has no migrations"
    return head


def current_revision(engine: Engine | Connection) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    if isinstance(engine, Connection):
        return MigrationContext.configure(engine).get_current_revision()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(settings: Settings) -> str:
    """Create the schema or upgrade it to head; safe to run twice, and from two processes at once.

    On the first migrate ``default_pool`` gets ``settings.default_pool_slots``; later runs only
    recreate it if it is missing, and never change slots a person set. Returns the revision.
    """
    with _engine(settings) as engine:
        return upgrade_engine(engine, settings.default_pool_slots)


def upgrade_engine(engine: Engine, default_pool_slots: int) -> str:
    """Upgrade through an engine the caller owns (it stays open)."""
    with engine.begin() as connection, _migration_lock(connection):
        before = current_revision(connection)
        command.upgrade(alembic_config(connection), "head")
        session = Session(bind=connection)
        if before is None:
            pools.set_pool(session, DEFAULT_POOL, default_pool_slots)
        pools.ensure_default_pool(session, default_pool_slots)
        session.flush()
        after = current_revision(connection)
    logger.info("metastore at %s migrated from %s to %s", redact(engine.url), before, after)
    assert after is not None
    return after


def reset(settings: Settings) -> str:
    """Drop every tradewind table (and Alembic's version table), then migrate from empty."""
    with _engine(settings) as engine, engine.begin() as connection, _migration_lock(connection):
        Base.metadata.drop_all(connection)
        sa.Table(VERSION_TABLE, sa.MetaData()).drop(connection, checkfirst=True)
        logger.warning("metastore at %s reset: every table dropped", redact(engine.url))
    return migrate(settings)


def check(settings: Settings) -> str:
    """One line saying the metastore is reachable and at head; a ``MetastoreError`` otherwise."""
    with _engine(settings) as engine:
        current = current_revision(engine)
        head = head_revision()
        where = f"metastore at {redact(engine.url)}"
        if current is None:
            raise MetastoreError(f"{where} is not migrated: run `tradewind db migrate`")
        known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
        if current not in known:
            raise MetastoreError(
                f"{where} is at revision {current}, which this tradewind does not know "
                f"(its head is {head}): upgrade tradewind"
            )
        if current != head:
            raise MetastoreError(
                f"{where} is at revision {current}, head is {head}; not migrated: run `tradewind db migrate`"
            )
        return f"{where} is reachable and at revision {current} (head)"


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    engine = create_engine_from_settings(settings)
    try:
        check_connection(engine)
        try:
            yield engine
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise unreachable_error(engine, exc) from exc
            raise
    finally:
        engine.dispose()


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """Serialize migrations on PostgreSQL, so two containers starting at once do not both create tables.

    A transaction-level advisory lock: it is released by the commit that publishes the new schema,
    so the process that waited sees that schema and has nothing to do. On SQLite the driver would
    autocommit each DDL statement; BEGIN IMMEDIATE takes the file's write lock up front instead,
    which makes the migration one transaction and makes a second migrator wait (busy_timeout).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    yield
