"""What ``tradewind db clean`` may delete and what it always keeps: the history tables by the names an
Airflow user types, the column that dates each table's rows, and the plan one command line asks for.

Pure data and rules; the metastore's ``cleanup`` module turns a plan into SQL. As in Airflow's
``db clean``, a row is old when its age column is before the cutoff, and a row whose age column is
empty (a run or task instance that never started) is never old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class CleanTable:
    """One table ``db clean`` may delete from."""

    #: The name ``--tables`` takes: Airflow's, or tradewind's own where Airflow has no such table.
    name: str
    #: The tradewind table the rows live in.
    table: str
    #: The column that dates a row.
    age_column: str
    #: What stays whatever its age.
    keeps: str


_RUN_ROWS_KEPT = "the rows of every run dag_run keeps"

#: Every table, in the order they are cleaned: a run's own rows before the runs, so each batch of
#: runs takes few rows with it (deleting a run deletes its task instances, tries, XComs and logs).
CLEAN_TABLES: tuple[CleanTable, ...] = (
    CleanTable("task_log", "task_log", "created_at", _RUN_ROWS_KEPT),
    CleanTable("xcom", "xcom", "timestamp", _RUN_ROWS_KEPT),
    CleanTable("task_instance_history", "task_try", "start_date", _RUN_ROWS_KEPT),
    CleanTable("task_instance", "task_instance", "start_date", _RUN_ROWS_KEPT),
    CleanTable(
        "dag_run",
        "dag_run",
        "start_date",
        "queued and running runs; runs with an unfinished task instance; each DAG's latest scheduled run "
        "(its schedule goes on from it)",
    ),
    CleanTable("log", "audit_log", "dttm", "nothing"),
    CleanTable(
        "import_error",
        "import_error",
        "timestamp",
        "errors of files still in the DAG folder (still true: a file is read again only when it changes)",
    ),
    CleanTable("job", "job", "latest_heartbeat", "running jobs with a fresh heartbeat (live schedulers)"),
    CleanTable("worker", "worker", "last_heartbeat", "online workers with a fresh heartbeat"),
    CleanTable(
        "dag",
        "dag",
        "last_parsed",
        "DAGs still in the DAG folder (last_parsed dates the file's last change, not its last sighting)",
    ),
)

#: tradewind's own table names, accepted for the Airflow names above.
ALIASES: dict[str, str] = {"audit_log": "log", "task_try": "task_instance_history"}

#: Tables Airflow's ``db clean`` knows that tradewind does not have.
AIRFLOW_ONLY: frozenset[str] = frozenset(
    {
        "callback_request",
        "celery_taskmeta",
        "celery_tasksetmeta",
        "dataset_event",
        "rendered_task_instance_fields",
        "session",
        "sla_miss",
        "task_fail",
        "task_reschedule",
        "trigger",
    }
)

_BY_NAME = {table.name: table for table in CLEAN_TABLES}


class UnknownTable(ValueError):
    """A ``--tables`` value naming a table ``db clean`` does not clean."""


def table_names() -> list[str]:
    return [table.name for table in CLEAN_TABLES]


def select_tables(value: str | None) -> tuple[CleanTable, ...]:
    """The tables a comma-separated ``--tables`` value names, in cleaning order; every table for None.

    An empty value is refused rather than read as "all": a script whose variable came out empty
    must not purge every table.
    """
    if value is None:
        return CLEAN_TABLES
    requested = [name.strip() for name in value.split(",") if name.strip()]
    valid = ", ".join(table_names())
    if not requested:
        raise UnknownTable(f"--tables names no table; valid: {valid}")
    unknown = [name for name in requested if ALIASES.get(name, name) not in _BY_NAME]
    if unknown:
        airflow_only = [name for name in unknown if name in AIRFLOW_ONLY]
        not_here = f" ({', '.join(airflow_only)}: Airflow's, tradewind has no such table)" if airflow_only else ""
        raise UnknownTable(f"unknown table(s) for --tables: {', '.join(unknown)}{not_here}; valid: {valid}")
    wanted = {ALIASES.get(name, name) for name in requested}
    return tuple(table for table in CLEAN_TABLES if table.name in wanted)


@dataclass(frozen=True)
class CleanPlan:
    """What one ``db clean`` deletes: rows of ``tables`` older than ``before``, ``batch_size`` at a time."""

    before: datetime
    tables: tuple[CleanTable, ...]
    batch_size: int
    #: A running job or online worker that heartbeat at or after this time is alive and kept.
    alive_since: datetime


def plan_clean(
    before: datetime, tables: str | None, *, batch_size: int, now: datetime, alive_for: timedelta
) -> CleanPlan:
    """The plan for a cutoff (time-zone aware), a ``--tables`` value and a batch size.

    ``alive_for`` is how recent a heartbeat must be for a job or worker to count as alive (the
    health-check threshold), so a cutoff in the future still never deletes a live scheduler's row.
    """
    if before.tzinfo is None:
        raise ValueError("the cutoff must carry a time zone")
    if batch_size < 1:
        raise ValueError(f"the batch size must be at least 1, not {batch_size}")
    return CleanPlan(before=before, tables=select_tables(tables), batch_size=batch_size, alive_since=now - alive_for)
