"""The metastore's tables as typed SQLAlchemy models, identical on PostgreSQL and SQLite.

The migrations in ``migrations/versions/`` create exactly these tables; a test compares the two.
Change a model only together with a new migration.

Unlike the rest of the code, this module has no ``from __future__ import annotations``: its
``Mapped[...]`` annotations are evaluated as each class is created, where SQLAlchemy would
otherwise evaluate some two hundred annotation strings one by one, about 40 ms of every process
that starts (each CLI command among them).
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tradewind.metastore.column_types import JsonText, UtcDateTime

__all__ = [
    "AuditLog",
    "Base",
    "Connection",
    "DagCode",
    "DagFile",
    "DagModel",
    "DagRun",
    "DagRunDatasetEvent",
    "DagScheduleAliasReference",
    "DagScheduleDatasetReference",
    "DatasetAliasMember",
    "DatasetAliasModel",
    "DatasetDagRunQueue",
    "DatasetEvent",
    "DatasetModel",
    "Job",
    "JsonText",
    "LoginFailure",
    "ParseImportError",
    "SlotPool",
    "TaskInstance",
    "TaskLog",
    "TaskOutletDatasetReference",
    "TaskTry",
    "Trigger",
    "User",
    "UtcDateTime",
    "Variable",
    "WebSession",
    "Worker",
    "XCom",
]

#: Stable constraint names, so a later migration can name the constraint it alters.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 250
STATE_LENGTH = 20
DEFAULT_POOL = "default_pool"

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}


def _run_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE")


class DagModel(Base):
    """A DAG as the dag processor last parsed it; the scheduler and the web UI read only this."""

    __tablename__ = "dag"

    dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    fileloc: Mapped[str] = mapped_column(sa.String(2000))
    is_paused: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    serialized: Mapped[Any | None] = mapped_column(JsonText())
    dag_hash: Mapped[str | None] = mapped_column(sa.String(128))
    last_parsed: Mapped[datetime | None]
    schedule_description: Mapped[str | None] = mapped_column(sa.String(1000))
    description: Mapped[str | None] = mapped_column(sa.Text())
    tags: Mapped[Any | None] = mapped_column(JsonText())
    owners: Mapped[str | None] = mapped_column(sa.String(2000))
    max_active_runs: Mapped[int | None]
    max_active_tasks: Mapped[int | None]
    next_dagrun_data_interval_start: Mapped[datetime | None]
    next_dagrun_data_interval_end: Mapped[datetime | None]
    next_dagrun_create_after: Mapped[datetime | None]
    has_import_errors: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: What the UI shows for the DAG (``dag_display_name``); NULL shows the id.
    dag_display_name: Mapped[str | None] = mapped_column(sa.String(2000))

    @property
    def display_name(self) -> str:
        return self.dag_display_name or self.dag_id


class DagFile(Base):
    """A DAG file as the dag processor last read it: content hash, its stat when hashed, and the
    DAG ids it defined."""

    __tablename__ = "dag_file"

    filename: Mapped[str] = mapped_column(sa.String(1000), primary_key=True)
    content_hash: Mapped[str] = mapped_column(sa.String(128))
    #: Modification time (ns) and size when hashed; NULL: hash it at the next scan.
    mtime_ns: Mapped[int | None] = mapped_column(sa.BigInteger())
    size: Mapped[int | None] = mapped_column(sa.BigInteger())
    #: JSON list of the DAG ids of the last good import.
    dag_ids: Mapped[Any] = mapped_column(JsonText())
    last_parsed: Mapped[datetime | None]


class DagCode(Base):
    """The source text of a DAG file, as the dag processor last read it (the webserver has no DAG folder)."""

    __tablename__ = "dag_code"

    fileloc: Mapped[str] = mapped_column(sa.String(1000), primary_key=True)
    source: Mapped[str] = mapped_column(sa.Text())
    source_hash: Mapped[str] = mapped_column(sa.String(128))
    last_updated: Mapped[datetime]


class ParseImportError(Base):
    """The last error importing one DAG file (Airflow's ``import_error``)."""

    __tablename__ = "import_error"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(sa.String(1000), unique=True)
    stacktrace: Mapped[str | None] = mapped_column(sa.Text())
    timestamp: Mapped[datetime | None]


class DagRun(Base):
    __tablename__ = "dag_run"
    __table_args__ = (
        sa.UniqueConstraint("dag_id", "run_id"),
        sa.UniqueConstraint("dag_id", "logical_date"),
        sa.Index("ix_dag_run_dag_id_logical_date", "dag_id", "logical_date"),
        sa.Index("ix_dag_run_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), index=True)
    run_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH))
    run_type: Mapped[str] = mapped_column(sa.String(50))
    logical_date: Mapped[datetime]
    data_interval_start: Mapped[datetime | None]
    data_interval_end: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(sa.String(STATE_LENGTH))
    conf: Mapped[Any | None] = mapped_column(JsonText())
    external_trigger: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    queued_at: Mapped[datetime | None]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    last_scheduling_decision: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    #: What a person wrote about the run (Airflow's note).
    note: Mapped[str | None] = mapped_column(sa.Text())


class TaskInstance(Base):
    """One task of one run. ``state`` is ``'none'`` before scheduling, never NULL."""

    __tablename__ = "task_instance"
    __table_args__ = (
        _run_fk(),
        sa.Index("ix_task_instance_state", "state"),
        sa.Index("ix_task_instance_dag_id_state", "dag_id", "state"),
    )

    dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    map_index: Mapped[int] = mapped_column(primary_key=True, default=-1, server_default=sa.text("-1"))
    #: The number of the current try, or of the last one; 0 until the first try is queued.
    try_number: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    max_tries: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    state: Mapped[str] = mapped_column(sa.String(STATE_LENGTH), default="none", server_default="none")
    operator: Mapped[str | None] = mapped_column(sa.String(1000))
    queued_dttm: Mapped[datetime | None]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    duration: Mapped[float | None]
    hostname: Mapped[str | None] = mapped_column(sa.String(1000))
    pid: Mapped[int | None]
    last_heartbeat: Mapped[datetime | None]
    pool: Mapped[str] = mapped_column(sa.String(256), default=DEFAULT_POOL, server_default=DEFAULT_POOL)
    pool_slots: Mapped[int] = mapped_column(default=1, server_default=sa.text("1"))
    queue: Mapped[str | None] = mapped_column(sa.String(256))
    priority_weight: Mapped[int] = mapped_column(default=1, server_default=sa.text("1"))
    #: A reschedule-mode sensor comes back at this time.
    next_poke_at: Mapped[datetime | None]
    #: A sensor's timeout counts from its first poke, across retries.
    first_poke_at: Mapped[datetime | None]
    #: When an up_for_retry task instance becomes due again.
    retry_at: Mapped[datetime | None]
    rendered_fields: Mapped[Any | None] = mapped_column(JsonText())
    external_executor_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH))
    #: The try whose processes may still be running on ``hostname``: set by the claim, cleared by the
    #: worker once it saw them all gone. While set and heartbeating, no other try is queued or claimed.
    live_try: Mapped[int | None]
    updated_at: Mapped[datetime | None]
    #: What a person wrote about the task instance (Airflow's note).
    note: Mapped[str | None] = mapped_column(sa.Text())
    #: The trigger a deferred task instance waits on (``trigger.id``).
    trigger_id: Mapped[int | None] = mapped_column(index=True)
    #: A deferred task instance fails (``__fail__``) when its trigger has not fired by then.
    trigger_timeout: Mapped[datetime | None]
    #: The method a resumed task instance calls instead of ``execute``, and its keyword arguments
    #: (the trigger's event under ``event``); NULL for a fresh try.
    next_method: Mapped[str | None] = mapped_column(sa.String(1000))
    next_kwargs: Mapped[Any | None] = mapped_column(JsonText())


class Trigger(Base):
    """A trigger a deferred task instance waits on, serialized as Airflow's (classpath, kwargs),
    and the triggerer job that runs it (NULL: not taken yet, or its triggerer's job is dead)."""

    __tablename__ = "trigger"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    classpath: Mapped[str] = mapped_column(sa.String(1000))
    kwargs: Mapped[Any] = mapped_column(JsonText())
    created_date: Mapped[datetime] = mapped_column()
    triggerer_id: Mapped[int | None] = mapped_column(BigId, index=True)


class TaskTry(Base):
    """The history of each try of a task instance, kept after the next try starts."""

    __tablename__ = "task_try"
    __table_args__ = (_run_fk(),)

    dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    map_index: Mapped[int] = mapped_column(primary_key=True)
    try_number: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(STATE_LENGTH), default="none", server_default="none")
    queued_dttm: Mapped[datetime | None]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    duration: Mapped[float | None]
    hostname: Mapped[str | None] = mapped_column(sa.String(1000))
    pid: Mapped[int | None]
    operator: Mapped[str | None] = mapped_column(sa.String(1000))
    rendered_fields: Mapped[Any | None] = mapped_column(JsonText())
    #: The one-line reason the try failed.
    error: Mapped[str | None] = mapped_column(sa.Text())


class XCom(Base):
    __tablename__ = "xcom"
    __table_args__ = (_run_fk(),)

    dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    map_index: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    value: Mapped[Any | None] = mapped_column(JsonText())
    #: What the UI, the API and the CLI show instead of ``value``: the value with the secrets the
    #: pushing task's process knew masked; NULL when nothing in it had to be hidden.
    display_value: Mapped[Any | None] = mapped_column(JsonText())
    timestamp: Mapped[datetime | None]


class TaskLog(Base):
    """A task try's log as numbered chunks; a reader polls for chunks after the last seq it saw."""

    __tablename__ = "task_log"
    __table_args__ = (
        _run_fk(),
        # Unique: two chunks with one seq would make a reader skip one of them.
        sa.Index("ix_task_log_try_seq", "dag_id", "run_id", "task_id", "map_index", "try_number", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH))
    run_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH))
    task_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH))
    map_index: Mapped[int]
    try_number: Mapped[int]
    seq: Mapped[int]
    content: Mapped[str] = mapped_column(sa.Text())
    created_at: Mapped[datetime | None]


class Variable(Base):
    __tablename__ = "variable"

    key: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    val: Mapped[str | None] = mapped_column(sa.Text())
    description: Mapped[str | None] = mapped_column(sa.Text())
    is_encrypted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class Connection(Base):
    __tablename__ = "connection"

    conn_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    conn_type: Mapped[str] = mapped_column(sa.String(500))
    description: Mapped[str | None] = mapped_column(sa.Text())
    host: Mapped[str | None] = mapped_column(sa.String(500))
    schema: Mapped[str | None] = mapped_column(sa.String(500))
    login: Mapped[str | None] = mapped_column(sa.Text())
    password: Mapped[str | None] = mapped_column(sa.Text())
    port: Mapped[int | None]
    extra: Mapped[str | None] = mapped_column(sa.Text())
    is_encrypted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    is_extra_encrypted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class SlotPool(Base):
    __tablename__ = "slot_pool"

    pool: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    slots: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    description: Mapped[str | None] = mapped_column(sa.Text())
    include_deferred: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(sa.String(256), unique=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(512))
    #: Admin, Op or Viewer.
    role: Mapped[str] = mapped_column(sa.String(32), default="Viewer", server_default="Viewer")
    email: Mapped[str | None] = mapped_column(sa.String(512))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime | None]
    last_login: Mapped[datetime | None]
    api_token_hash: Mapped[str | None] = mapped_column(sa.String(512), index=True)


class WebSession(Base):
    """A browser's login. Its cookie carries a random secret whose SHA-256 is ``id``; deleting the
    row (logout, a password change, an Admin ending the user's sessions) makes the cookie worthless."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(Base):
    """Recent failed logins of one account or from one address, shared by every webserver process
    for the login back-off. ``scope`` is ``account`` or ``address``; a success deletes the account's row."""

    __tablename__ = "login_failure"

    scope: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    failures: Mapped[int]
    last_failure_at: Mapped[datetime] = mapped_column(index=True)


class AuditLog(Base):
    """Who did what, from the UI, the API or the CLI."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dttm: Mapped[datetime] = mapped_column(index=True)
    event: Mapped[str] = mapped_column(sa.String(100))
    dag_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH), index=True)
    run_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH))
    task_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH))
    map_index: Mapped[int | None]
    #: A username, or 'cli'.
    owner: Mapped[str | None] = mapped_column(sa.String(500))
    extra: Mapped[Any | None] = mapped_column(JsonText())


class Job(Base):
    """A long-running master process (a scheduler) and its heartbeat; liveness for `jobs check`."""

    __tablename__ = "job"
    __table_args__ = (sa.Index(None, "job_type", "state", "latest_heartbeat"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_type: Mapped[str] = mapped_column(sa.String(30))
    state: Mapped[str] = mapped_column(sa.String(STATE_LENGTH))
    hostname: Mapped[str] = mapped_column(sa.String(ID_LENGTH))
    pid: Mapped[int] = mapped_column(sa.Integer)
    start_date: Mapped[datetime] = mapped_column()
    end_date: Mapped[datetime | None] = mapped_column()
    latest_heartbeat: Mapped[datetime] = mapped_column()
    #: What the job counted (zombies found, task instances sent again, loop time…), for metrics.
    counters: Mapped[Any] = mapped_column(JsonText, default=dict)


class Worker(Base):
    """A worker process that registered itself; live while its heartbeat is fresh."""

    __tablename__ = "worker"

    hostname: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(STATE_LENGTH))
    queues: Mapped[Any] = mapped_column(JsonText, default=list)
    concurrency: Mapped[int] = mapped_column(sa.Integer)
    pid: Mapped[int] = mapped_column(sa.Integer)
    version: Mapped[str] = mapped_column(sa.String(50))
    started_at: Mapped[datetime] = mapped_column()
    last_heartbeat: Mapped[datetime] = mapped_column()
    #: Why the worker cannot do its work right now (broker unreachable, not consuming); NULL: healthy.
    problem: Mapped[str | None] = mapped_column(sa.String(1000))
    #: How often the worker's consumer reconnected to the broker since the worker started.
    broker_reconnects: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))


# -- datasets (data-aware scheduling, as Airflow 2.10 stores it) ----------------------------------

#: A dataset URI's or alias name's longest form (Airflow's limit).
URI_LENGTH = 3000


def _dag_fk(column: str = "dag_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["dag.dag_id"], ondelete="CASCADE")


class DatasetModel(Base):
    """A dataset some DAG names (in a schedule or an outlet) or an event was sent for."""

    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uri: Mapped[str] = mapped_column(sa.String(URI_LENGTH), unique=True)
    extra: Mapped[Any] = mapped_column(JsonText, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DatasetAliasModel(Base):
    """A dataset alias some DAG names; the datasets events were attached to through it are its members."""

    __tablename__ = "dataset_alias"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(URI_LENGTH), unique=True)


class DatasetAliasMember(Base):
    __tablename__ = "dataset_alias_dataset"
    __table_args__ = (
        sa.ForeignKeyConstraint(["alias_id"], ["dataset_alias.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"], ondelete="CASCADE"),
    )

    alias_id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(primary_key=True)


class DagScheduleDatasetReference(Base):
    """A DAG whose schedule waits on a dataset (a consumer)."""

    __tablename__ = "dag_schedule_dataset_reference"
    __table_args__ = (_dag_fk(), sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"], ondelete="CASCADE"))

    dataset_id: Mapped[int] = mapped_column(primary_key=True)
    dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DagScheduleAliasReference(Base):
    """A DAG whose schedule waits on a dataset alias."""

    __tablename__ = "dag_schedule_dataset_alias_reference"
    __table_args__ = (_dag_fk(), sa.ForeignKeyConstraint(["alias_id"], ["dataset_alias.id"], ondelete="CASCADE"))

    alias_id: Mapped[int] = mapped_column(primary_key=True)
    dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TaskOutletDatasetReference(Base):
    """A task that updates a dataset when it succeeds (a producer)."""

    __tablename__ = "task_outlet_dataset_reference"
    __table_args__ = (_dag_fk(), sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"], ondelete="CASCADE"))

    dataset_id: Mapped[int] = mapped_column(primary_key=True)
    dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DatasetEvent(Base):
    """One update of a dataset: by a task that succeeded (its source) or sent from outside."""

    __tablename__ = "dataset_event"
    __table_args__ = (
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"], ondelete="CASCADE"),
        sa.Index("ix_dataset_event_dataset_id_timestamp", "dataset_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int]
    extra: Mapped[Any] = mapped_column(JsonText, default=dict)
    source_dag_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH))
    source_task_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH))
    source_run_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH))
    source_map_index: Mapped[int | None]
    timestamp: Mapped[datetime]


class DatasetDagRunQueue(Base):
    """An event a consumer DAG has not had a run for yet: one row per (event, consumer), deleted in
    the transaction that creates the run it goes into, so no event is lost or counted twice."""

    __tablename__ = "dataset_dag_run_queue"
    __table_args__ = (
        _dag_fk("target_dag_id"),
        sa.ForeignKeyConstraint(["event_id"], ["dataset_event.id"], ondelete="CASCADE"),
        sa.Index("ix_dataset_dag_run_queue_target_dag_id", "target_dag_id"),
    )

    event_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target_dag_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    dataset_id: Mapped[int]
    created_at: Mapped[datetime]


class DagRunDatasetEvent(Base):
    """An event that went into a dataset-triggered run (``triggering_dataset_events``)."""

    __tablename__ = "dagrun_dataset_event"
    __table_args__ = (
        sa.ForeignKeyConstraint(["dag_run_id"], ["dag_run.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["dataset_event.id"], ondelete="CASCADE"),
        sa.Index("ix_dagrun_dataset_event_event_id", "event_id"),
    )

    dag_run_id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId, primary_key=True)
