"""What a worker reports about its own health, and which try of a task instance may still have
processes alive.

- ``worker.problem``: why the worker cannot do its work right now (NULL while healthy), and
  ``worker.broker_reconnects``: how often its consumer had to reconnect to the broker.
- ``task_instance.live_try``: the try whose processes may still be running on ``hostname``; set
  when a worker claims the try, cleared once that worker has seen every process of it gone. No
  other try of the task instance is queued or claimed while it is set and heartbeating.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("worker") as batch:
        batch.add_column(sa.Column("problem", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("broker_reconnects", sa.Integer(), nullable=False, server_default=sa.text("0")))
    with op.batch_alter_table("task_instance") as batch:
        batch.add_column(sa.Column("live_try", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_column("live_try")
    with op.batch_alter_table("worker") as batch:
        batch.drop_column("broker_reconnects")
        batch.drop_column("problem")
