"""The scheduler's commands as a user types them: trigger, pause, backfill, clear, task state, jobs
check, and `tradewind scheduler` itself (one per SQLite metastore, a clear line when a server is
down, a clean stop on SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from tradewind.cli.main import cli
from tradewind.master.scheduler.single_scheduler import SchedulerLock
from tradewind.metastore import audit, dags, jobs, runs, task_instances
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.task_instances import TIKey
from tradewind.settings import Settings
from tradewind.states import TaskInstanceState as TI

pytestmark = pytest.mark.integration

TRADEWIND = Path(sys.executable).with_name("tradewind")
DAG_FILE = """
from datetime import datetime, timezone
from tradewind import DAG, BashOperator, Param

with DAG("etl", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), catchup=False,
         params={"rows": Param(10, type="integer", minimum=0)}):
    extract = BashOperator(task_id="extract", bash_command="echo {{ params.rows }}", retries=2)
    load = BashOperator(task_id="load", bash_command="true")
    report = BashOperator(task_id="report", bash_command="true")
    extract >> load >> report
"""


class Env:
    def __init__(self, home: Path, extra: dict[str, str] | None = None) -> None:
        self.home = home
        self.dags_folder = home / "dags"
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        (self.dags_folder / "etl.py").write_text(textwrap.dedent(DAG_FILE))
        self.vars = {
            "TRADEWIND_HOME": str(home),
            "TRADEWIND_DAGS_FOLDER": str(self.dags_folder),
            "TRADEWIND_DAGS_ARE_PAUSED_AT_CREATION": "false",
            "TRADEWIND_LOG_LEVEL": "WARNING",
            **(extra or {}),
        }
        self.settings = Settings.from_env(self.vars)
        self.engine = create_engine_from_settings(self.settings)
        self.factory: sessionmaker[Session] = make_session_factory(self.engine)
        # ``dags trigger`` and the like read the metastore only: the new file is parsed first, as
        # a user without a running scheduler does.
        assert self.run("dags", "reserialize").exit_code == 0

    def run(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.vars, input=input, catch_exceptions=False)

    def process_env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
        return {**base, **self.vars, "HOME": str(self.home)}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.engine.dispose()


def one_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- dags trigger / pause / unpause / backfill -------------------------------------------------------


def test_trigger_refuses_a_conf_that_is_not_an_object_or_breaks_the_params_and_writes_nothing(env: Env):
    not_object = env.run("dags", "trigger", "etl", "--conf", "[1, 2]")
    assert not_object.exit_code != 0 and "must be a JSON object" in one_line(not_object)
    bad_param = env.run("dags", "trigger", "etl", "--conf", '{"rows": -5}')
    assert bad_param.exit_code == 1
    assert one_line(bad_param).startswith("Error: ") and "rows" in bad_param.stderr
    with session_scope(env.factory) as session:
        assert runs.list_runs(session, "etl") == []


def test_trigger_creates_a_queued_run_with_its_conf_and_prints_its_run_id_as_json(env: Env):
    result = env.run("dags", "trigger", "etl", "--conf", '{"rows": 5}', "--run-id", "nightly_fix", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] == "nightly_fix"
    dated = env.run("dags", "trigger", "etl", "--logical-date", "2024-02-01T12:00:00")
    assert dated.exit_code == 0 and "manual__2024-02-01T12:00:00+00:00" in dated.stdout
    with session_scope(env.factory) as session:
        run = runs.get_run(session, "etl", "nightly_fix")
        assert (run.state, run.run_type, run.conf, run.external_trigger) == ("queued", "manual", {"rows": 5}, True)
        assert {t.task_id: t.state for t in task_instances.get_tis(session, "etl", "nightly_fix")} == {
            "extract": "none",
            "load": "none",
            "report": "none",
        }
        dated_run = runs.get_run(session, "etl", "manual__2024-02-01T12:00:00+00:00")
        # A daily DAG triggered at noon covers the last complete day, as in Airflow.
        assert (dated_run.data_interval_start, dated_run.data_interval_end) == (
            datetime(2024, 1, 31, tzinfo=UTC),
            datetime(2024, 2, 1, tzinfo=UTC),
        )
        events = [(e.event, e.owner, e.run_id) for e in audit.list_events(session, "etl")]
    assert ("trigger", "cli", "nightly_fix") in events
    again = env.run("dags", "trigger", "etl", "--run-id", "nightly_fix")
    assert again.exit_code == 1 and "already has a run" in one_line(again)


def test_pause_and_unpause_flip_the_flag_and_are_audited(env: Env):
    assert env.run("dags", "pause", "etl").stdout.strip() == "Dag: etl, paused: True"
    with session_scope(env.factory) as session:
        assert dags.get_dag(session, "etl").is_paused
    assert env.run("dags", "unpause", "etl").exit_code == 0
    with session_scope(env.factory) as session:
        assert not dags.get_dag(session, "etl").is_paused
        assert [e.event for e in audit.list_events(session, "etl")][:2] == ["unpause", "pause"]
    missing = env.run("dags", "pause", "nope")
    assert missing.exit_code == 1 and "nope" in one_line(missing)


def test_backfill_creates_one_run_per_interval_and_skips_dates_that_already_have_one(env: Env):
    env.run("dags", "trigger", "etl", "--logical-date", "2024-01-03")
    result = env.run("dags", "backfill", "etl", "-s", "2024-01-01", "-e", "2024-01-05")
    assert result.exit_code == 0, result.output
    assert "Created 4 backfill run(s)" in result.stdout and "1 interval(s) already had a run" in result.stdout
    with session_scope(env.factory) as session:
        backfills = [r for r in runs.list_runs(session, "etl", newest_first=False) if r.run_type == "backfill"]
    assert [r.logical_date.day for r in backfills] == [1, 2, 4, 5]
    assert {(r.state, r.data_interval_end - r.data_interval_start) for r in backfills} == {
        ("queued", timedelta(days=1))
    }
    again = env.run("dags", "backfill", "etl", "-s", "2024-01-01", "-e", "2024-01-05")
    assert "Created 0 backfill run(s)" in again.stdout


# --- tasks clear / state ----------------------------------------------------------------------------


def _finished_run(env: Env) -> str:
    run_id = json.loads(env.run("dags", "trigger", "etl", "-o", "json").stdout)["run_id"]
    with session_scope(env.factory) as session:
        for task_id, final in (("extract", TI.SUCCESS), ("load", TI.FAILED), ("report", TI.UPSTREAM_FAILED)):
            key = TIKey("etl", run_id, task_id)
            task_instances.transition(
                session,
                key,
                expected_state=TI.NONE,
                target_state=final,
                manual=True,
                try_number=1 if final != TI.UPSTREAM_FAILED else 0,
            )
        run = runs.get_run(session, "etl", run_id)
        runs.set_run_state(session, run, "failed")
    return run_id


def test_tasks_clear_shows_what_it_will_clear_asks_and_then_reruns_the_failed_tasks(env: Env):
    run_id = _finished_run(env)
    declined = env.run("tasks", "clear", "etl", "--only-failed", input="n\n")
    assert declined.exit_code == 1 and "load" in declined.stdout and "report" in declined.stdout
    assert "extract" not in declined.stdout
    with session_scope(env.factory) as session:
        assert runs.get_run(session, "etl", run_id).state == "failed"

    result = env.run("tasks", "clear", "etl", "-t", "^load$", "--downstream", "--yes")
    assert result.exit_code == 0, result.output
    assert "Cleared 2 task instance(s) in 1 run(s)" in result.stdout
    with session_scope(env.factory) as session:
        tis = {t.task_id: t for t in task_instances.get_tis(session, "etl", run_id)}
        assert runs.get_run(session, "etl", run_id).state == "queued"
        assert [e.event for e in audit.list_events(session, "etl")][0] == "clear"
    assert (tis["load"].state, tis["load"].max_tries) == ("none", 1)
    assert (tis["report"].state, tis["extract"].state) == ("none", "success")
    assert env.run("tasks", "state", "etl", "extract", run_id).stdout.strip() == "success"
    assert env.run("tasks", "state", "etl", "load", run_id).stdout.strip() == "none"
    missing = env.run("tasks", "state", "etl", "extract", "no_such_run")
    assert missing.exit_code == 1 and "no_such_run" in one_line(missing)


# --- jobs check -------------------------------------------------------------------------------------


def test_jobs_check_exits_0_only_while_a_scheduler_heartbeat_is_fresh(env: Env):
    never = env.run("jobs", "check")
    assert never.exit_code == 1 and "no scheduler has ever run" in one_line(never)
    now = datetime.now(UTC)
    with session_scope(env.factory) as session:
        job = jobs.start_job(session, "scheduler", hostname="master-1", pid=321, now=now - timedelta(seconds=100))
        job_id = job.id
    stale = env.run("jobs", "check")
    assert stale.exit_code == 1
    assert "no scheduler heartbeat for 100 s (threshold 30 s)" in one_line(stale) and "master-1" in stale.stderr
    with session_scope(env.factory) as session:
        jobs.heartbeat(session, job_id, now=datetime.now(UTC))
    alive = env.run("jobs", "check")
    assert alive.exit_code == 0 and "scheduler alive" in alive.stdout


# --- tradewind scheduler ----------------------------------------------------------------------------


def test_a_dead_metastore_or_broker_stops_the_scheduler_with_one_line_naming_it_without_its_password(env: Env):
    dead_db = CliRunner().invoke(
        cli,
        ["scheduler"],
        env={**env.vars, "TRADEWIND_DATABASE_URL": "postgresql://postgres:s3cret@127.0.0.1:1/tradewind"},
    )
    assert dead_db.exit_code == 1
    line = one_line(dead_db)
    assert "cannot reach the metastore at postgresql://postgres:***@127.0.0.1:1/tradewind" in line
    assert "s3cret" not in dead_db.output

    dead_broker = CliRunner().invoke(
        cli, ["scheduler"], env={**env.vars, "TRADEWIND_BROKER_URL": "redis://:s3cret@127.0.0.1:1/0"}
    )
    assert dead_broker.exit_code == 1
    line = one_line(dead_broker)
    assert "cannot reach the broker at redis://:***@127.0.0.1:1/0" in line and "s3cret" not in dead_broker.output


def test_a_second_scheduler_on_sqlite_is_refused_with_one_line(env: Env):
    with SchedulerLock(env.settings):
        second = env.run("scheduler")
    assert second.exit_code == 1
    line = one_line(second)
    assert "already running" in line and f"pid {os.getpid()}" in line


def test_the_scheduler_process_queues_a_triggered_run_refuses_a_twin_and_stops_cleanly_on_sigterm(env: Env):
    env.run("db", "migrate")
    scheduler = subprocess.Popen(
        [str(TRADEWIND), "scheduler"],
        env=env.process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: (env.home / "scheduler.lock").exists() and _job(env.factory) is not None, 20, scheduler)
        twin = subprocess.run(
            [str(TRADEWIND), "scheduler"], env=env.process_env(), capture_output=True, text=True, timeout=30
        )
        assert twin.returncode == 1
        assert [line for line in twin.stderr.splitlines() if line.strip()] == [
            line for line in twin.stderr.splitlines() if "already running" in line and f"pid {scheduler.pid}" in line
        ]

        run_id = json.loads(env.run("dags", "trigger", "etl", "-o", "json").stdout)["run_id"]
        _wait_for(lambda: _state(env.factory, run_id, "extract") == "queued", 20, scheduler)
        assert any((env.home / "broker" / "data").iterdir()), "the message is in the embedded broker"
    finally:
        scheduler.send_signal(signal.SIGTERM)
        try:
            out, err = scheduler.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(scheduler.pid, signal.SIGKILL)
            raise
    assert scheduler.returncode == 0, err
    job = _job(env.factory)
    assert job is not None and job.state == jobs.ENDED and job.end_date is not None


def _job(factory: sessionmaker[Session]) -> jobs.Job | None:
    with session_scope(factory) as session:
        return jobs.latest_job(session, "scheduler")


def _state(factory: sessionmaker[Session], run_id: str, task_id: str) -> str | None:
    with session_scope(factory) as session:
        ti = task_instances.get_ti(session, "etl", run_id, task_id)
        return ti.state if ti is not None else None


def _wait_for(condition, timeout: float, process: subprocess.Popen[str]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the scheduler exited with {process.returncode}: {process.stderr.read()}")
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
