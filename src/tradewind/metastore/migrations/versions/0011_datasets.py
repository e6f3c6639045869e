"""Datasets: data-aware scheduling as Airflow 2.10 stores it.

- ``dataset`` and ``dataset_alias``: every dataset URI and alias name a DAG names or an event was
  sent for; ``dataset_alias_dataset``: the datasets events were attached to through an alias.
- ``dag_schedule_dataset_reference`` / ``dag_schedule_dataset_alias_reference``: the consumers
  (DAGs scheduled on a dataset or alias); ``task_outlet_dataset_reference``: the producers.
- ``dataset_event``: each update of a dataset; ``dataset_dag_run_queue``: the events each consumer
  has had no run for yet (one row per event and consumer); ``dagrun_dataset_event``: the events
  that went into each dataset-triggered run.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=250)
URI = sa.String(length=3000)
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.Text()
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str, target_column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{target_column}"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def _stamps() -> list[sa.Column[object]]:
    return [sa.Column("created_at", TIMESTAMP, nullable=False), sa.Column("updated_at", TIMESTAMP, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uri", URI, nullable=False),
        sa.Column("extra", JSON, nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset")),
        sa.UniqueConstraint("uri", name=op.f("uq_dataset_uri")),
    )
    op.create_table(
        "dataset_alias",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", URI, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_alias")),
        sa.UniqueConstraint("name", name=op.f("uq_dataset_alias_name")),
    )
    op.create_table(
        "dataset_alias_dataset",
        sa.Column("alias_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        _fk("dataset_alias_dataset", "alias_id", "dataset_alias", "id"),
        _fk("dataset_alias_dataset", "dataset_id", "dataset", "id"),
        sa.PrimaryKeyConstraint("alias_id", "dataset_id", name=op.f("pk_dataset_alias_dataset")),
    )
    op.create_table(
        "dag_schedule_dataset_reference",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        *_stamps(),
        _fk("dag_schedule_dataset_reference", "dag_id", "dag", "dag_id"),
        _fk("dag_schedule_dataset_reference", "dataset_id", "dataset", "id"),
        sa.PrimaryKeyConstraint("dataset_id", "dag_id", name=op.f("pk_dag_schedule_dataset_reference")),
    )
    op.create_table(
        "dag_schedule_dataset_alias_reference",
        sa.Column("alias_id", sa.Integer(), nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        *_stamps(),
        _fk("dag_schedule_dataset_alias_reference", "dag_id", "dag", "dag_id"),
        _fk("dag_schedule_dataset_alias_reference", "alias_id", "dataset_alias", "id"),
        sa.PrimaryKeyConstraint("alias_id", "dag_id", name=op.f("pk_dag_schedule_dataset_alias_reference")),
    )
    op.create_table(
        "task_outlet_dataset_reference",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        *_stamps(),
        _fk("task_outlet_dataset_reference", "dag_id", "dag", "dag_id"),
        _fk("task_outlet_dataset_reference", "dataset_id", "dataset", "id"),
        sa.PrimaryKeyConstraint("dataset_id", "dag_id", "task_id", name=op.f("pk_task_outlet_dataset_reference")),
    )
    op.create_table(
        "dataset_event",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("source_dag_id", ID, nullable=True),
        sa.Column("source_task_id", ID, nullable=True),
        sa.Column("source_run_id", ID, nullable=True),
        sa.Column("source_map_index", sa.Integer(), nullable=True),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        _fk("dataset_event", "dataset_id", "dataset", "id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_event")),
    )
    op.create_index(
        op.f("ix_dataset_event_dataset_id_timestamp"), "dataset_event", ["dataset_id", "timestamp"], unique=False
    )
    op.create_table(
        "dataset_dag_run_queue",
        sa.Column("event_id", BIG_ID, nullable=False),
        sa.Column("target_dag_id", ID, nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        _fk("dataset_dag_run_queue", "target_dag_id", "dag", "dag_id"),
        _fk("dataset_dag_run_queue", "event_id", "dataset_event", "id"),
        sa.PrimaryKeyConstraint("event_id", "target_dag_id", name=op.f("pk_dataset_dag_run_queue")),
    )
    op.create_index(
        op.f("ix_dataset_dag_run_queue_target_dag_id"), "dataset_dag_run_queue", ["target_dag_id"], unique=False
    )
    op.create_table(
        "dagrun_dataset_event",
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("event_id", BIG_ID, nullable=False),
        _fk("dagrun_dataset_event", "dag_run_id", "dag_run", "id"),
        _fk("dagrun_dataset_event", "event_id", "dataset_event", "id"),
        sa.PrimaryKeyConstraint("dag_run_id", "event_id", name=op.f("pk_dagrun_dataset_event")),
    )
    op.create_index(op.f("ix_dagrun_dataset_event_event_id"), "dagrun_dataset_event", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dagrun_dataset_event_event_id"), table_name="dagrun_dataset_event")
    op.drop_table("dagrun_dataset_event")
    op.drop_index(op.f("ix_dataset_dag_run_queue_target_dag_id"), table_name="dataset_dag_run_queue")
    op.drop_table("dataset_dag_run_queue")
    op.drop_index(op.f("ix_dataset_event_dataset_id_timestamp"), table_name="dataset_event")
    op.drop_table("dataset_event")
    op.drop_table("task_outlet_dataset_reference")
    op.drop_table("dag_schedule_dataset_alias_reference")
    op.drop_table("dag_schedule_dataset_reference")
    op.drop_table("dataset_alias_dataset")
    op.drop_table("dataset_alias")
    op.drop_table("dataset")
