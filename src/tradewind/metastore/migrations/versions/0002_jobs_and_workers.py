"""Scheduler jobs and registered workers, with their heartbeats.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=250)
STATE = sa.String(length=20)
TIMESTAMP = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("job_type", sa.String(length=30), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("hostname", ID, nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("start_date", TIMESTAMP, nullable=False),
        sa.Column("end_date", TIMESTAMP, nullable=True),
        sa.Column("latest_heartbeat", TIMESTAMP, nullable=False),
        sa.Column("counters", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index(op.f("ix_job_job_type_state_latest_heartbeat"), "job", ["job_type", "state", "latest_heartbeat"])
    op.create_table(
        "worker",
        sa.Column("hostname", ID, nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("queues", sa.Text(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("last_heartbeat", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("hostname", name=op.f("pk_worker")),
    )


def downgrade() -> None:
    op.drop_table("worker")
    op.drop_index(op.f("ix_job_job_type_state_latest_heartbeat"), table_name="job")
    op.drop_table("job")
