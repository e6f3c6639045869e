"""Alembic's environment for the metastore, configured in code by ``tradewind.metastore.migrate``.

``migrate`` passes an open connection in ``config.attributes["connection"]`` (already inside its
transaction and, on PostgreSQL, holding the migration lock); there is no alembic.ini.
"""

from __future__ import annotations

from alembic import context

from tradewind.metastore.models import Base

config = context.config


def _run_offline() -> None:
    # `alembic upgrade --sql`: print the DDL for a DBA instead of running it.
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=bool(url and url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run metastore migrations through tradewind.metastore.migrate.migrate()")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
