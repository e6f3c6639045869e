"""A DAG file's modification time and size beside its content hash, so the dag processor reads
and hashes only the files whose stat changed.

- ``dag_file.mtime_ns``: the file's modification time in nanoseconds when it was last hashed;
  NULL when it was too recent to be trusted (changed within the file system's time resolution)
  or recorded before this revision: the file is hashed at the next scan.
- ``dag_file.size``: the file's size in bytes when it was last hashed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dag_file") as batch:
        batch.add_column(sa.Column("mtime_ns", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("size", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dag_file") as batch:
        batch.drop_column("size")
        batch.drop_column("mtime_ns")
