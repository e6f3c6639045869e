"""The first metastore schema: DAGs and their files, runs, task instances and tries, XCom, logs, pools, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Types are spelled out here rather than imported from ``models``, so this file keeps creating the
same schema when the models move on: ``UtcDateTime`` is a timezone-aware timestamp and
``JsonText`` is text.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=250)
STATE = sa.String(length=20)
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.Text()
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEFAULT_POOL_SLOTS = 128


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["dag_id", "run_id"],
        ["dag_run.dag_id", "dag_run.run_id"],
        name=op.f(f"fk_{table}_dag_id_run_id_dag_run"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "dag",
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("fileloc", sa.String(length=2000), nullable=False),
        sa.Column("is_paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("serialized", JSON, nullable=True),
        sa.Column("dag_hash", sa.String(length=128), nullable=True),
        sa.Column("last_parsed", TIMESTAMP, nullable=True),
        sa.Column("schedule_description", sa.String(length=1000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", JSON, nullable=True),
        sa.Column("owners", sa.String(length=2000), nullable=True),
        sa.Column("max_active_runs", sa.Integer(), nullable=True),
        sa.Column("max_active_tasks", sa.Integer(), nullable=True),
        sa.Column("next_dagrun_data_interval_start", TIMESTAMP, nullable=True),
        sa.Column("next_dagrun_data_interval_end", TIMESTAMP, nullable=True),
        sa.Column("next_dagrun_create_after", TIMESTAMP, nullable=True),
        sa.Column("has_import_errors", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", name=op.f("pk_dag")),
    )

    op.create_table(
        "dag_file",
        sa.Column("filename", sa.String(length=1000), nullable=False),
        sa.Column("content_hash", sa.String(length=128), nullable=False),
        sa.Column("dag_ids", JSON, nullable=False),
        sa.Column("last_parsed", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("filename", name=op.f("pk_dag_file")),
    )

    op.create_table(
        "import_error",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filename", sa.String(length=1000), nullable=False),
        sa.Column("stacktrace", sa.Text(), nullable=True),
        sa.Column("timestamp", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_error")),
        sa.UniqueConstraint("filename", name=op.f("uq_import_error_filename")),
    )

    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("run_type", sa.String(length=50), nullable=False),
        sa.Column("logical_date", TIMESTAMP, nullable=False),
        sa.Column("data_interval_start", TIMESTAMP, nullable=True),
        sa.Column("data_interval_end", TIMESTAMP, nullable=True),
        sa.Column("state", STATE, nullable=False),
        sa.Column("conf", JSON, nullable=True),
        sa.Column("external_trigger", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("queued_at", TIMESTAMP, nullable=True),
        sa.Column("start_date", TIMESTAMP, nullable=True),
        sa.Column("end_date", TIMESTAMP, nullable=True),
        sa.Column("last_scheduling_decision", TIMESTAMP, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_run")),
        sa.UniqueConstraint("dag_id", "run_id", name=op.f("uq_dag_run_dag_id_run_id")),
        sa.UniqueConstraint("dag_id", "logical_date", name=op.f("uq_dag_run_dag_id_logical_date")),
    )
    op.create_index(op.f("ix_dag_run_dag_id"), "dag_run", ["dag_id"])
    op.create_index("ix_dag_run_dag_id_logical_date", "dag_run", ["dag_id", "logical_date"])
    op.create_index("ix_dag_run_state", "dag_run", ["state"])

    op.create_table(
        "task_instance",
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), server_default=sa.text("-1"), nullable=False),
        sa.Column("try_number", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_tries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("state", STATE, server_default="none", nullable=False),
        sa.Column("operator", sa.String(length=1000), nullable=True),
        sa.Column("queued_dttm", TIMESTAMP, nullable=True),
        sa.Column("start_date", TIMESTAMP, nullable=True),
        sa.Column("end_date", TIMESTAMP, nullable=True),
        sa.Column("duration", sa.Double(), nullable=True),
        sa.Column("hostname", sa.String(length=1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("last_heartbeat", TIMESTAMP, nullable=True),
        sa.Column("pool", sa.String(length=256), server_default="default_pool", nullable=False),
        sa.Column("pool_slots", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("queue", sa.String(length=256), nullable=True),
        sa.Column("priority_weight", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("next_poke_at", TIMESTAMP, nullable=True),
        sa.Column("first_poke_at", TIMESTAMP, nullable=True),
        sa.Column("retry_at", TIMESTAMP, nullable=True),
        sa.Column("rendered_fields", JSON, nullable=True),
        sa.Column("external_executor_id", ID, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        _run_fk("task_instance"),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index", name=op.f("pk_task_instance")),
    )
    op.create_index("ix_task_instance_state", "task_instance", ["state"])
    op.create_index("ix_task_instance_dag_id_state", "task_instance", ["dag_id", "state"])

    op.create_table(
        "task_try",
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("state", STATE, server_default="none", nullable=False),
        sa.Column("queued_dttm", TIMESTAMP, nullable=True),
        sa.Column("start_date", TIMESTAMP, nullable=True),
        sa.Column("end_date", TIMESTAMP, nullable=True),
        sa.Column("duration", sa.Double(), nullable=True),
        sa.Column("hostname", sa.String(length=1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("operator", sa.String(length=1000), nullable=True),
        sa.Column("rendered_fields", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _run_fk("task_try"),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index", "try_number", name=op.f("pk_task_try")),
    )

    op.create_table(
        "xcom",
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", JSON, nullable=True),
        sa.Column("timestamp", TIMESTAMP, nullable=True),
        _run_fk("xcom"),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index", "key", name=op.f("pk_xcom")),
    )

    op.create_table(
        "task_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=True),
        _run_fk("task_log"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_log")),
    )
    op.create_index(
        "ix_task_log_try_seq",
        "task_log",
        ["dag_id", "run_id", "task_id", "map_index", "try_number", "seq"],
        unique=True,
    )

    op.create_table(
        "variable",
        sa.Column("key", ID, nullable=False),
        sa.Column("val", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_encrypted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_variable")),
    )

    op.create_table(
        "connection",
        sa.Column("conn_id", ID, nullable=False),
        sa.Column("conn_type", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=500), nullable=True),
        sa.Column("schema", sa.String(length=500), nullable=True),
        sa.Column("login", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("is_encrypted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_extra_encrypted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("conn_id", name=op.f("pk_connection")),
    )

    slot_pool = op.create_table(
        "slot_pool",
        sa.Column("pool", sa.String(length=256), nullable=False),
        sa.Column("slots", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("include_deferred", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("pool", name=op.f("pk_slot_pool")),
    )

    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=256), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=True),
        sa.Column("role", sa.String(length=32), server_default="Viewer", nullable=False),
        sa.Column("email", sa.String(length=512), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=True),
        sa.Column("last_login", TIMESTAMP, nullable=True),
        sa.Column("api_token_hash", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("username", name=op.f("uq_user_username")),
    )
    op.create_index(op.f("ix_user_api_token_hash"), "user", ["api_token_hash"])

    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("dttm", TIMESTAMP, nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("dag_id", ID, nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("task_id", ID, nullable=True),
        sa.Column("map_index", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(length=500), nullable=True),
        sa.Column("extra", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_dttm"), "audit_log", ["dttm"])
    op.create_index(op.f("ix_audit_log_dag_id"), "audit_log", ["dag_id"])

    # tradewind.metastore.migrate sets the slots from TRADEWIND_DEFAULT_POOL_SLOTS right after this.
    op.bulk_insert(
        slot_pool,
        [
            {
                "pool": "default_pool",
                "slots": DEFAULT_POOL_SLOTS,
                "description": "Default pool",
                "include_deferred": False,
            }
        ],
    )


def downgrade() -> None:
    for table in (
        "audit_log",
        "user",
        "slot_pool",
        "connection",
        "variable",
        "task_log",
        "xcom",
        "task_try",
        "task_instance",
        "dag_run",
        "import_error",
        "dag_file",
        "dag",
    ):
        op.drop_table(table)
