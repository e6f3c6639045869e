"""A real scheduler (its own process, over Postgres and Redis) creates the runs a timetable calls for:
a cron DAG on Amsterdam and on New York time catching up across a daylight-saving change, a DAG
with a custom timetable from a plugin in the plugins folder, and a DAG whose timetable no plugin
registers, which stays an import error that names it."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cluster import Cluster, wait_until

from tradewind.metastore import import_errors, runs
from tradewind.metastore.engine import session_scope

pytestmark = pytest.mark.integration

EXAMPLE_PLUGINS = Path(__file__).resolve().parents[2] / "examples" / "plugins"

DST_DAGS = """
import pendulum
from airflow import DAG
from airflow.operators.empty import EmptyOperator

# 31 March 2024: Amsterdam has no 02:00. 3 November 2024: New York has two 01:30.
with DAG("amsterdam_2am", schedule="0 2 * * *", catchup=True,
         start_date=pendulum.datetime(2024, 3, 29, 2, tz="Europe/Amsterdam"),
         end_date=pendulum.datetime(2024, 4, 2, 2, tz="Europe/Amsterdam")):
    EmptyOperator(task_id="t")

with DAG("new_york_130", schedule="30 1 * * *", catchup=True,
         start_date=pendulum.datetime(2024, 11, 1, 1, 30, tz="America/New_York"),
         end_date=pendulum.datetime(2024, 11, 4, 1, 30, tz="America/New_York")):
    EmptyOperator(task_id="t")
"""

WORKDAY_DAG = """
import pendulum
from airflow import DAG
from airflow.operators.empty import EmptyOperator
from workday_plugin import AfterWorkdayTimetable

# Friday 5 January 2024 to Tuesday 9 January: no run for the weekend.
with DAG("after_workdays", timetable=AfterWorkdayTimetable(), catchup=True,
         start_date=pendulum.datetime(2024, 1, 5, tz="UTC"), end_date=pendulum.datetime(2024, 1, 9, tz="UTC")):
    EmptyOperator(task_id="t")
"""

UNREGISTERED_DAG = """
import pendulum
from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.timetables.simple import OnceTimetable

class HomeMadeTimetable(OnceTimetable):
    pass

with DAG("home_made", timetable=HomeMadeTimetable(), start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    EmptyOperator(task_id="t")
"""


@pytest.fixture
def cluster(tmp_path: Path, fresh_pg_url: str, redis_url: str) -> Iterator[Cluster]:
    folder = tmp_path / "dags"
    folder.mkdir()
    cluster = Cluster(tmp_path / "home", fresh_pg_url, redis_url, folder)
    shutil.copytree(EXAMPLE_PLUGINS, cluster.home / "plugins")  # TRADEWIND_HOME/plugins, the default
    cluster.cli("db", "migrate")
    yield cluster
    cluster.stop_all()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def scheduled_intervals(cluster: Cluster, dag_id: str, count: int) -> list[tuple[datetime, datetime]]:
    """The data intervals of the DAG's scheduled runs once there are ``count``, oldest first."""

    def found() -> list[tuple[datetime, datetime]]:
        with session_scope(cluster.factory) as session:
            return [
                (r.data_interval_start.astimezone(UTC), r.data_interval_end.astimezone(UTC))
                for r in runs.list_runs(session, dag_id, newest_first=False)
                if r.run_type == "scheduled"
            ]

    wait_until(
        lambda: len(found()) >= count, 60, lambda: f"{dag_id}: runs {found()}\n{cluster.tail_logs()}", interval=0.2
    )
    return found()


def test_the_scheduler_catches_up_cron_dags_on_local_time_across_dst(cluster: Cluster):
    (cluster.dags_folder / "dst_dags.py").write_text(textwrap.dedent(DST_DAGS))
    cluster.start_scheduler()

    assert scheduled_intervals(cluster, "amsterdam_2am", 5) == [
        (utc(2024, 3, 29, 1), utc(2024, 3, 30, 1)),
        (utc(2024, 3, 30, 1), utc(2024, 3, 31, 1)),
        (utc(2024, 3, 31, 1), utc(2024, 4, 1, 0)),  # 02:00 CET = 03:00 CEST, then 23 hours to 02:00 CEST
        (utc(2024, 4, 1, 0), utc(2024, 4, 2, 0)),
        (utc(2024, 4, 2, 0), utc(2024, 4, 3, 0)),
    ]
    assert scheduled_intervals(cluster, "new_york_130", 4) == [
        (utc(2024, 11, 1, 5, 30), utc(2024, 11, 2, 5, 30)),
        (utc(2024, 11, 2, 5, 30), utc(2024, 11, 3, 6, 30)),  # the second 01:30 (EST): 25 hours
        (utc(2024, 11, 3, 6, 30), utc(2024, 11, 4, 6, 30)),
        (utc(2024, 11, 4, 6, 30), utc(2024, 11, 5, 6, 30)),
    ]
    listed = cluster.cli("dags", "list-runs", "-d", "amsterdam_2am", "-o", "json").stdout
    assert "scheduled__2024-03-31T01:00:00+00:00" in listed


def test_the_scheduler_runs_a_plugin_timetable_and_refuses_an_unregistered_one(cluster: Cluster):
    (cluster.dags_folder / "after_workdays.py").write_text(textwrap.dedent(WORKDAY_DAG))
    (cluster.dags_folder / "home_made.py").write_text(textwrap.dedent(UNREGISTERED_DAG))
    cluster.start_scheduler()

    assert scheduled_intervals(cluster, "after_workdays", 3) == [
        (utc(2024, 1, 5), utc(2024, 1, 6)),
        (utc(2024, 1, 8), utc(2024, 1, 9)),
        (utc(2024, 1, 9), utc(2024, 1, 10)),
    ]

    def home_made_error() -> str | None:
        with session_scope(cluster.factory) as session:
            errors = [
                e.stacktrace for e in import_errors.list_import_errors(session) if e.filename.endswith("home_made.py")
            ]
        return errors[0] if errors else None

    error = wait_until(home_made_error, 30, cluster.tail_logs, interval=0.2)
    assert "timetable class 'tradewind_dagfile_" in error and ".HomeMadeTimetable' is not registered" in error
    shown = cluster.cli("dags", "list-import-errors", check=False)
    assert "HomeMadeTimetable' is not registered" in shown.stdout
    plugins = cluster.cli("plugins", "-o", "json")
    assert '"workday_plugin.AfterWorkdayTimetable"' in plugins.stdout
