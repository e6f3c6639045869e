"""A DAG's display name (Airflow 2.9+'s ``dag_display_name``), so the DAGs list can show it
without loading every DAG's serialized structure.

- ``dag.dag_display_name``: what the UI shows for the DAG; NULL means its id.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dag") as batch:
        batch.add_column(sa.Column("dag_display_name", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dag") as batch:
        batch.drop_column("dag_display_name")
