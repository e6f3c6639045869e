"""`tradewind db clean` as an operator runs it, on SQLite and PostgreSQL: old history goes, what the
system still uses stays, a dry run deletes nothing, bad input loses nothing, and on PostgreSQL rows a
scheduler holds are passed over instead of waited for."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_helpers import TRADEWIND, Cli, CliResult, metastore_session

from tradewind.metastore.engine import create_engine_from_settings
from tradewind.metastore.migrate import migrate
from tradewind.metastore.models import (
    AuditLog,
    DagFile,
    DagModel,
    DagRun,
    Job,
    ParseImportError,
    TaskInstance,
    TaskLog,
    TaskTry,
    Worker,
    XCom,
)
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

BEFORE = "2024-01-01"
OLD = datetime(2023, 6, 1, tzinfo=UTC)
NEW = datetime(2024, 6, 1, tzinfo=UTC)
RUN_TABLES = (TaskInstance, TaskTry, XCom, TaskLog)
ALL_TABLES = (DagRun, *RUN_TABLES, AuditLog, ParseImportError, Job, Worker, DagModel)


def _cli(settings: Settings) -> Cli:
    return Cli(home=settings.home, dags_folder=settings.home / "dags", database_url=settings.database_url)


def _add_run(
    session: Any,
    dag_id: str,
    run_id: str,
    *,
    run_type: str,
    logical_date: datetime,
    started: datetime,
    state: str = "success",
    ti_state: str | None = None,
    live_try: int | None = None,
) -> None:
    """A run with one task instance, its try, an XCom and a log chunk, all dated ``started``."""
    session.add(
        DagRun(
            dag_id=dag_id,
            run_id=run_id,
            run_type=run_type,
            logical_date=logical_date,
            state=state,
            external_trigger=run_type == "manual",
            start_date=started,
        )
    )
    session.flush()
    key = {"dag_id": dag_id, "run_id": run_id, "task_id": "work", "map_index": -1}
    ti_state = ti_state or state
    session.add(TaskInstance(**key, state=ti_state, try_number=1, start_date=started, live_try=live_try))
    session.add(TaskTry(**key, try_number=1, state=ti_state, start_date=started))
    session.add(XCom(**key, key="return_value", value=1, timestamp=started))
    session.add(TaskLog(**key, try_number=1, seq=0, content="hello", created_at=started))


def _seed(settings: Settings) -> None:
    """One DAG's history across the cutoff, and what the system is using now."""
    now = datetime.now(UTC)
    with metastore_session(settings) as session:
        _add_run(
            session,
            "etl",
            "scheduled__old",
            run_type="scheduled",
            logical_date=datetime(2023, 5, 1, tzinfo=UTC),
            started=OLD,
        )
        _add_run(
            session,
            "etl",
            "scheduled__latest",
            run_type="scheduled",
            logical_date=datetime(2023, 5, 2, tzinfo=UTC),
            started=OLD,
        )
        _add_run(
            session,
            "etl",
            "manual__old",
            run_type="manual",
            logical_date=datetime(2023, 5, 3, tzinfo=UTC),
            started=OLD,
            state="failed",
        )
        _add_run(
            session,
            "etl",
            "manual__still_running",
            run_type="manual",
            logical_date=datetime(2023, 4, 1, tzinfo=UTC),
            started=OLD,
            state="running",
        )
        _add_run(session, "etl", "manual__new", run_type="manual", logical_date=NEW, started=NEW)
        _add_run(
            session,
            "etl",
            "manual__failed_while_queued",
            run_type="manual",
            logical_date=datetime(2023, 5, 4, tzinfo=UTC),
            started=OLD,
            state="failed",
            ti_state="queued",
        )
        # Marked failed while it ran: its worker is still stopping the try's processes, and will write.
        _add_run(
            session,
            "etl",
            "manual__marked_while_stopping",
            run_type="manual",
            logical_date=datetime(2023, 5, 5, tzinfo=UTC),
            started=OLD,
            state="failed",
            live_try=1,
        )
        _add_run(
            session,
            "other",
            "scheduled__only",
            run_type="scheduled",
            logical_date=datetime(2023, 1, 1, tzinfo=UTC),
            started=OLD,
        )
        session.add_all(
            [
                AuditLog(dttm=OLD, event="pause", owner="admin"),
                AuditLog(dttm=NEW, event="trigger", owner="admin"),
                DagFile(filename="/dags/broken.py", content_hash="h", dag_ids=[], last_parsed=OLD),
                ParseImportError(filename="/dags/broken.py", stacktrace="SyntaxError", timestamp=OLD),
                ParseImportError(filename="/dags/deleted.py", stacktrace="SyntaxError", timestamp=OLD),
                Job(
                    job_type="scheduler",
                    state="success",
                    hostname="a",
                    pid=1,
                    start_date=OLD,
                    end_date=OLD,
                    latest_heartbeat=OLD,
                    counters={},
                ),
                Job(
                    job_type="scheduler",
                    state="running",
                    hostname="b",
                    pid=2,
                    start_date=OLD,
                    latest_heartbeat=OLD,
                    counters={},
                ),
                Job(
                    job_type="scheduler",
                    state="running",
                    hostname="c",
                    pid=3,
                    start_date=now,
                    latest_heartbeat=now,
                    counters={},
                ),
                Worker(
                    hostname="gone",
                    state="offline",
                    queues=["default"],
                    concurrency=1,
                    pid=4,
                    version="1",
                    started_at=OLD,
                    last_heartbeat=OLD,
                ),
                Worker(
                    hostname="live",
                    state="online",
                    queues=["default"],
                    concurrency=1,
                    pid=5,
                    version="1",
                    started_at=now,
                    last_heartbeat=now,
                ),
                DagModel(dag_id="etl", fileloc="/dags/etl.py", is_active=True, last_parsed=OLD),
                DagModel(dag_id="retired", fileloc="/dags/retired.py", is_active=False, last_parsed=OLD),
                DagModel(dag_id="retired_lately", fileloc="/dags/lately.py", is_active=False, last_parsed=NEW),
            ]
        )


def _row_counts(settings: Settings) -> dict[str, int]:
    with metastore_session(settings) as session:
        return {
            model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
            for model in ALL_TABLES
        }


def _run_ids(settings: Settings, model: Any = DagRun) -> set[str]:
    with metastore_session(settings) as session:
        return set(session.scalars(sa.select(model.run_id)))


def _deleted(result: CliResult) -> dict[str, int]:
    assert result.returncode == 0, result
    return {row["table"]: row["rows"] for row in result.json()}


@pytest.fixture
def seeded(metastore_settings: Settings) -> Settings:
    _seed(metastore_settings)
    return metastore_settings


def test_old_history_goes_and_unfinished_runs_and_each_dags_latest_scheduled_run_stay(seeded: Settings) -> None:
    result = _cli(seeded)("db", "clean", "--clean-before-timestamp", BEFORE, "--yes", "-o", "json")

    assert _deleted(result) == {
        "task_log": 2,
        "xcom": 2,
        "task_instance_history": 2,
        "task_instance": 2,
        "dag_run": 2,
        "log": 1,
        "import_error": 1,
        "job": 2,
        "worker": 1,
        "dag": 1,
    }
    kept = {
        "scheduled__latest",
        "manual__still_running",
        "manual__failed_while_queued",
        "manual__new",
        "manual__marked_while_stopping",
        "scheduled__only",
    }
    assert _run_ids(seeded) == kept
    for model in RUN_TABLES:
        assert _run_ids(seeded, model) == kept, f"{model.__tablename__} keeps the rows of the kept runs"
    with metastore_session(seeded) as session:
        assert set(session.scalars(sa.select(ParseImportError.filename))) == {"/dags/broken.py"}
        assert set(session.scalars(sa.select(Job.hostname))) == {"c"}
        assert set(session.scalars(sa.select(Worker.hostname))) == {"live"}
        assert set(session.scalars(sa.select(DagModel.dag_id))) == {"etl", "retired_lately"}
        events = list(
            session.execute(sa.select(AuditLog.event, AuditLog.owner, AuditLog.extra).order_by(AuditLog.dttm))
        )
    assert [event for event, _, _ in events] == ["trigger", "db_clean"]
    _, owner, extra = events[-1]
    assert owner == "cli" and extra["deleted"]["dag_run"] == 2
    assert extra["clean_before_timestamp"] == "2024-01-01T00:00:00+00:00"


def test_a_dry_run_counts_exactly_what_a_real_run_then_deletes_and_deletes_nothing(seeded: Settings) -> None:
    cli = _cli(seeded)
    before = _row_counts(seeded)

    dry = cli("db", "clean", "--clean-before-timestamp", BEFORE, "--dry-run", "-o", "json")

    assert {row["dry_run"] for row in dry.json()} == {True}
    assert _row_counts(seeded) == before, "a dry run deletes nothing and asks nothing"
    real = cli("db", "clean", "--clean-before-timestamp", BEFORE, "--yes", "-o", "json")
    assert _deleted(dry) == _deleted(real)


def test_a_dry_run_shows_a_table_of_what_would_go_and_what_each_table_keeps(seeded: Settings) -> None:
    dry = _cli(seeded)("db", "clean", "--clean-before-timestamp", BEFORE, "--dry-run", "-t", "dag_run,log")

    assert dry.returncode == 0, dry
    assert dry.stdout.startswith("Rows dated before 2024-01-01T00:00:00+00:00 would be deleted (dry run")
    table = {row["table"]: row for row in dry.table()}
    assert list(table) == ["dag_run", "log"]
    assert (table["log"]["stored_in"], table["log"]["age_column"], table["log"]["rows"]) == ("audit_log", "dttm", "1")
    assert "latest scheduled run" in table["dag_run"]["keeps"]


def test_only_the_tables_named_are_cleaned_and_a_deleted_run_takes_its_rows_with_it(seeded: Settings) -> None:
    result = _cli(seeded)("db", "clean", "--clean-before-timestamp", BEFORE, "-t", "dag_run", "--yes", "-o", "json")

    assert _deleted(result) == {"dag_run": 2}
    assert "scheduled__old" not in _run_ids(seeded, TaskLog) | _run_ids(seeded, XCom) | _run_ids(seeded, TaskTry)
    with metastore_session(seeded) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 3, "job was not named"


def test_a_cutoff_in_the_future_still_keeps_live_schedulers_workers_active_runs_and_dags(seeded: Settings) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    result = _cli(seeded)("db", "clean", "--clean-before-timestamp", tomorrow, "--yes", "-o", "json")

    assert _deleted(result)["dag_run"] == 3
    assert _run_ids(seeded) == {
        "scheduled__latest",
        "manual__still_running",
        "manual__failed_while_queued",
        "manual__marked_while_stopping",
        "scheduled__only",
    }
    with metastore_session(seeded) as session:
        assert set(session.scalars(sa.select(Job.hostname))) == {"c"}
        assert set(session.scalars(sa.select(Worker.hostname))) == {"live"}
        assert set(session.scalars(sa.select(DagModel.dag_id))) == {"etl"}
        assert set(session.scalars(sa.select(TaskInstance.state))) == {"success", "running", "queued", "failed"}


def test_small_batches_delete_the_same_rows_as_one_big_one(seeded: Settings) -> None:
    result = _cli(seeded)(
        "db", "clean", "--clean-before-timestamp", BEFORE, "--batch-size", "1", "--yes", "--verbose", "-o", "json"
    )

    assert _deleted(result)["dag_run"] == 2
    assert "dag_run: batch 2: 1 row(s) deleted" in result.stderr
    assert "scheduled__old" not in _run_ids(seeded) and "manual__old" not in _run_ids(seeded)


def test_skip_archive_is_accepted_from_airflow_scripts_and_the_rows_are_simply_deleted(seeded: Settings) -> None:
    result = _cli(seeded)(
        "db", "clean", "--clean-before-timestamp", BEFORE, "-t", "log", "--skip-archive", "-y", "-o", "json"
    )

    assert _deleted(result) == {"log": 1}
    with metastore_session(seeded) as session:
        tables = sa.inspect(session.get_bind()).get_table_names()
    assert not [name for name in tables if "deleted" in name or "archive" in name]


# --- confirmation and bad input -------------------------------------------------------------------


def _clean_with_input(settings: Settings, answer: str) -> subprocess.CompletedProcess[str]:
    cli = _cli(settings)
    return subprocess.run(
        [str(TRADEWIND), "db", "clean", "--clean-before-timestamp", BEFORE],
        input=answer,
        env=cli.env,
        cwd=cli.home,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("answer", ["y\n", "no\n", ""], ids=["y", "no", "end-of-input"])
def test_without_yes_only_typing_delete_rows_deletes_anything(seeded: Settings, answer: str) -> None:
    before = _row_counts(seeded)

    refused = _clean_with_input(seeded, answer)

    assert refused.returncode == 1, refused
    assert "Enter 'delete rows'" in refused.stderr
    assert refused.stderr.splitlines()[-1] == "Error: not confirmed; nothing was deleted"
    assert _row_counts(seeded) == before
    confirmed = _clean_with_input(seeded, "delete rows\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert _row_counts(seeded)["dag_run"] == before["dag_run"] - 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(
            ["--clean-before-timestamp", "last tuesday"],
            r"^Error: invalid --clean-before-timestamp 'last tuesday': use ISO 8601",
            id="bad-timestamp",
        ),
        pytest.param(
            ["--clean-before-timestamp", BEFORE, "--tables", "dag_run,xcoms"],
            r"^Error: unknown table\(s\) for --tables: xcoms; valid: task_log, xcom, .*, dag$",
            id="unknown-table",
        ),
        pytest.param(
            ["--clean-before-timestamp", BEFORE, "--tables", "sla_miss"],
            r"sla_miss: Airflow's, tradewind has no such table",
            id="airflow-only-table",
        ),
        pytest.param(
            ["--clean-before-timestamp", BEFORE, "--tables", ""], r"--tables names no table", id="empty-tables"
        ),
    ],
)
def test_bad_input_is_one_error_line_and_nothing_is_deleted(seeded: Settings, args: list[str], says: str) -> None:
    import re

    before = _row_counts(seeded)

    result = _cli(seeded)("db", "clean", *args, "--yes")

    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [result.error_line]
    assert re.search(says, result.error_line), result
    assert result.stdout == ""
    assert _row_counts(seeded) == before


# --- a scheduler holding rows (PostgreSQL) --------------------------------------------------------


@pytest.fixture
def pg_history(fresh_pg_url: str, tmp_path: Path) -> Settings:
    """Five old finished manual runs of one DAG (none is kept), each with its own rows."""
    settings = Settings(home=tmp_path, database_url=fresh_pg_url)
    migrate(settings)
    with metastore_session(settings) as session:
        for day in range(1, 6):
            _add_run(
                session,
                "etl",
                f"manual__{day}",
                run_type="manual",
                logical_date=datetime(2023, 5, day, tzinfo=UTC),
                started=OLD,
            )
    return settings


@pytest.fixture
def holder(pg_history: Settings) -> Iterator[sa.Connection]:
    """A connection in an open transaction, like a scheduler's in the middle of a tick."""
    engine = create_engine_from_settings(pg_history)
    connection = engine.connect()
    connection.begin()
    try:
        yield connection
    finally:
        connection.close()
        engine.dispose()


def test_a_run_a_scheduler_holds_is_passed_over_with_its_rows_and_the_clean_does_not_wait(
    pg_history: Settings,
    holder: sa.Connection,
) -> None:
    held = holder.execute(sa.select(DagRun.id).where(DagRun.run_id == "manual__3").with_for_update()).scalar_one()

    result = _cli(pg_history)(
        "db", "clean", "--clean-before-timestamp", BEFORE, "--batch-size", "2", "--yes", "-o", "json", timeout=60
    )

    assert result.seconds < 20, f"db clean waited for the held run\n{result}"
    deleted = _deleted(result)
    assert {table: deleted[table] for table in ("dag_run", "task_instance", "xcom", "task_log")} == {
        "dag_run": 4,
        "task_instance": 4,
        "xcom": 4,
        "task_log": 4,
    }
    for model in (DagRun, *RUN_TABLES):
        assert _run_ids(pg_history, model) == {"manual__3"}, f"{model.__tablename__} keeps the held run's rows"
    holder.execute(sa.update(DagRun).where(DagRun.id == held).values(last_scheduling_decision=datetime.now(UTC)))
    holder.commit()
    again = _cli(pg_history)("db", "clean", "--clean-before-timestamp", BEFORE, "--yes", "-o", "json")
    assert _deleted(again)["dag_run"] == 1 and _run_ids(pg_history) == set()


def test_a_task_instance_held_too_long_stops_that_table_with_a_clear_error_and_the_rest_is_cleaned(
    pg_history: Settings,
    holder: sa.Connection,
) -> None:
    holder.execute(sa.select(TaskInstance.task_id).where(TaskInstance.run_id == "manual__2").with_for_update())

    result = _cli(pg_history)(
        "db", "clean", "--clean-before-timestamp", BEFORE, "--batch-size", "10", "--yes", "-o", "json", timeout=60
    )

    assert result.returncode == 1, result
    assert result.seconds < 30, result
    assert result.error_line.startswith("Error: dag_run not finished: a row it had to delete stayed locked")
    outcome = {row["table"]: row for row in result.json()}
    assert outcome["task_instance"]["rows"] == 4, "the held task instance was passed over"
    assert outcome["dag_run"]["rows"] == 0 and outcome["dag_run"]["stopped"]
    assert _run_ids(pg_history) == {f"manual__{day}" for day in range(1, 6)}, "the stopped batch left no half"
    assert _run_ids(pg_history, TaskInstance) == {"manual__2"}
