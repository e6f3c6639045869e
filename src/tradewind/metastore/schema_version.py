"""The schema revision this tradewind expects, checked without loading Alembic.

Every command that opens the metastore checks the revision first; reading one row is much
cheaper than importing Alembic, which is loaded only when an upgrade is actually due.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from tradewind.metastore.engine import check_connection
from tradewind.settings import Settings

#: The newest migration in migrations/versions (a unit test keeps the two in step).
HEAD_REVISION = "0010"


def read_revision(engine: Engine) -> str | None:
    """The revision recorded in the database, or None when it was never migrated."""
    with engine.connect() as connection:
        try:
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            return None


def ensure_migrated(engine: Engine, settings: Settings) -> str:
    """Migrate through the caller's engine, only if not at head (``standalone``, ``dags test``)."""
    check_connection(engine)
    current = read_revision(engine)
    if current == HEAD_REVISION:
        return current
    from tradewind.metastore.migrate import upgrade_engine

    return upgrade_engine(engine, settings.default_pool_slots)
