"""Deferred task instances and the triggers they wait on.

- ``trigger``: one row per trigger a deferred task instance waits on, serialized as Airflow's
  ``(classpath, kwargs)``; ``triggerer_id`` is the triggerer job running it (NULL: not taken yet).
- ``task_instance.trigger_id`` / ``trigger_timeout``: the trigger a deferred task instance waits
  on, and when it fails if the trigger has not fired.
- ``task_instance.next_method`` / ``next_kwargs``: what a resumed task instance calls instead of
  ``execute``, with the trigger's event.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trigger",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("classpath", sa.String(length=1000), nullable=False),
        sa.Column("kwargs", sa.Text(), nullable=False),
        sa.Column("created_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("triggerer_id", _BIG_ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger")),
    )
    op.create_index(op.f("ix_trigger_triggerer_id"), "trigger", ["triggerer_id"])
    with op.batch_alter_table("task_instance") as batch:
        batch.add_column(sa.Column("trigger_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("trigger_timeout", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("next_method", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("next_kwargs", sa.Text(), nullable=True))
        batch.create_index(op.f("ix_task_instance_trigger_id"), ["trigger_id"])


def downgrade() -> None:
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_index(op.f("ix_task_instance_trigger_id"))
        batch.drop_column("next_kwargs")
        batch.drop_column("next_method")
        batch.drop_column("trigger_timeout")
        batch.drop_column("trigger_id")
    op.drop_index(op.f("ix_trigger_triggerer_id"), table_name="trigger")
    op.drop_table("trigger")
