"""Data-aware scheduling on a real cluster (a scheduler and a worker, each its own process, over
PostgreSQL and Redis): a producer's successful task updates its outlet dataset, a consumer of
``[a, b]`` runs only once both were updated, one of ``a | b`` runs on either, a
``DatasetOrTimeSchedule`` runs on its timetable and on its dataset, a dataset added through an alias
triggers the alias's consumer, a failed producer sends no event, and the consumer's task sees the
events that triggered it; a producer whose worker is killed sends its event once, from the retry. Each consumer's task
appends a line to a ledger file, so every run that really happened is counted."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster, wait_until

from tradewind.metastore import dataset_reads, runs
from tradewind.metastore.engine import session_scope

pytestmark = pytest.mark.integration

DAGS = """
import json
from datetime import datetime, timezone

from airflow import DAG
from airflow.datasets import Dataset, DatasetAlias
from airflow.decorators import task
from airflow.timetables.datasets import DatasetOrTimeSchedule
from airflow.timetables.interval import CronDataIntervalTimetable

A = Dataset("s3://lake/a")
B = Dataset("s3://lake/b")
LEDGER = {ledger!r}
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def producer(dag_id, dataset, fail=False):
    with DAG(dag_id, schedule=None, start_date=START) as dag:

        @task(outlets=[dataset])
        def write(*, outlet_events=None, run_id=None):
            if fail:
                raise RuntimeError("disk full")
            outlet_events[dataset].extra["by"] = run_id

        write()
    return dag


def consumer(dag_id, schedule):
    with DAG(dag_id, schedule=schedule, start_date=START, max_active_runs=10) as dag:

        @task(inlets=[A])
        def consume(*, triggering_dataset_events=None, inlet_events=None, dag_run=None):
            line = {{
                "dag_id": dag_run.dag_id,
                "run_id": dag_run.run_id,
                "run_type": dag_run.run_type,
                "triggering": {{
                    uri: [[e.source_dag_id, e.extra.get("by")] for e in events]
                    for uri, events in triggering_dataset_events.items()
                }},
                "events_of_a": len(inlet_events[A]),
            }}
            with open(LEDGER, "a") as ledger:
                ledger.write(json.dumps(line) + "\\n")

        consume()
    return dag


make_a = producer("make_a", A)
make_b = producer("make_b", B)
make_b_fails = producer("make_b_fails", B, fail=True)
needs_both = consumer("needs_both", [A, B])
needs_either = consumer("needs_either", A | B)
# Unpaused with catchup off, it gets yesterday's daily run at once, and a run of its own on A.
EXPORTS = DatasetAlias("exports")
with DAG("export_via_alias", schedule=None, start_date=START):

    @task(outlets=[EXPORTS])
    def export(*, outlet_events=None, run_id=None):
        outlet_events[EXPORTS].add(Dataset("s3://lake/exports/1.csv"), extra={{"by": run_id}})

    export()

on_exports = consumer("on_exports", EXPORTS)
daily = CronDataIntervalTimetable("@daily", "UTC")
daily_or_a = consumer("daily_or_a", DatasetOrTimeSchedule(timetable=daily, datasets=[A]))
"""


@pytest.fixture
def cluster(tmp_path: Path, fresh_pg_url: str, redis_url: str) -> Iterator[Cluster]:
    folder = tmp_path / "dags"
    folder.mkdir()
    cluster = Cluster(tmp_path / "home", fresh_pg_url, redis_url, folder)
    cluster.cli("db", "migrate")
    yield cluster
    cluster.stop_all()


def _ledger(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _lines_of(path: Path, dag_id: str) -> list[dict[str, Any]]:
    return [line for line in _ledger(path) if line["dag_id"] == dag_id]


def _await_lines(cluster: Cluster, ledger: Path, dag_id: str, count: int) -> None:
    """Wait (bounded) until ``dag_id``'s task has written ``count`` ledger lines."""
    wait_until(
        lambda: len(_lines_of(ledger, dag_id)) >= count,
        timeout=60,
        describe=lambda: f"{dag_id} never wrote {count} line(s):\n" + cluster.tail_logs(),
    )
    assert len(_lines_of(ledger, dag_id)) == count, _lines_of(ledger, dag_id)


def test_consumers_run_when_their_datasets_are_updated_and_see_the_events(cluster: Cluster, tmp_path: Path):
    ledger = tmp_path / "ledger.jsonl"
    (cluster.dags_folder / "lake.py").write_text(textwrap.dedent(DAGS.format(ledger=str(ledger))))
    cluster.start_scheduler()
    cluster.start_worker("w1")
    for dag_id in ("make_a", "make_b", "make_b_fails", "needs_both", "needs_either", "daily_or_a", "on_exports"):
        cluster.wait_for_dag(dag_id)

    made_a = cluster.trigger("make_a")
    assert cluster.wait_for_run("make_a", made_a) == "success"
    _await_lines(cluster, ledger, "needs_either", 1)
    (first_either,) = _lines_of(ledger, "needs_either")
    assert first_either["run_type"] == "dataset_triggered"
    assert first_either["triggering"] == {"s3://lake/a": [["make_a", made_a]]}

    # A failed task sends no event: B is still not updated, so needs_both still waits for it.
    failed = cluster.trigger("make_b_fails")
    assert cluster.wait_for_run("make_b_fails", failed) == "failed"
    with session_scope(cluster.factory) as session:
        assert dataset_reads.list_events(session, uri="s3://lake/b") == []
        assert runs.list_runs(session, "needs_both") == []
        assert [(q.dag_id, q.uri) for q in dataset_reads.queued(session)] == [("needs_both", "s3://lake/a")]

    made_b = cluster.trigger("make_b")
    assert cluster.wait_for_run("make_b", made_b) == "success"
    _await_lines(cluster, ledger, "needs_both", 1)
    _await_lines(cluster, ledger, "needs_either", 2)
    (both,) = _lines_of(ledger, "needs_both")
    assert both["run_type"] == "dataset_triggered"
    assert both["triggering"] == {"s3://lake/a": [["make_a", made_a]], "s3://lake/b": [["make_b", made_b]]}
    assert both["events_of_a"] == 1
    assert _lines_of(ledger, "needs_either")[1]["triggering"] == {"s3://lake/b": [["make_b", made_b]]}
    # DatasetOrTimeSchedule: the timetable's run and the dataset's, each once.
    _await_lines(cluster, ledger, "daily_or_a", 2)
    by_type = {line["run_type"]: line for line in _lines_of(ledger, "daily_or_a")}
    assert sorted(by_type) == ["dataset_triggered", "scheduled"]
    assert by_type["dataset_triggered"]["triggering"] == {"s3://lake/a": [["make_a", made_a]]}
    assert by_type["scheduled"]["triggering"] == {}

    with session_scope(cluster.factory) as session:
        assert dataset_reads.queued(session) == [], "every event went into a run"
        (run,) = runs.list_runs(session, "needs_both")
        producers = {r.run_id: r for dag in ("make_a", "make_b") for r in runs.list_runs(session, dag)}
        # The run covers the data intervals of the runs whose events triggered it (Airflow 2.10).
        assert run.data_interval_start == producers[made_a].data_interval_start
        assert run.data_interval_end == producers[made_b].data_interval_end
        assert len(runs.list_runs(session, "needs_either")) == 2

    # A dataset chosen at run time through an alias triggers the DAG scheduled on the alias.
    exported = cluster.trigger("export_via_alias")
    assert cluster.wait_for_run("export_via_alias", exported) == "success"
    _await_lines(cluster, ledger, "on_exports", 1)
    (on_exports,) = _lines_of(ledger, "on_exports")
    assert on_exports["triggering"] == {"s3://lake/exports/1.csv": [["export_via_alias", exported]]}

    listed = {row["uri"]: row for row in json.loads(cluster.cli("datasets", "list", "-o", "json").stdout)}
    assert listed["s3://lake/a"]["events"] == 1 and listed["s3://lake/b"]["events"] == 1
    assert listed["s3://lake/exports/1.csv"]["events"] == 1
    assert listed["s3://lake/a"]["consuming_dags"] == "daily_or_a, needs_both, needs_either"
    assert listed["s3://lake/b"]["producing_tasks"] == "make_b.write, make_b_fails.write"


CRASH_DAGS = """
import json, time
from datetime import datetime, timedelta, timezone

from airflow import DAG
from airflow.datasets import Dataset
from airflow.decorators import task

C = Dataset("s3://lake/c")
LEDGER = {ledger!r}
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def note(**line):
    with open(LEDGER, "a") as ledger:
        ledger.write(json.dumps(line) + "\\n")


with DAG("slow_c", schedule=None, start_date=START):

    @task(outlets=[C], retries=1, retry_delay=timedelta(seconds=0))
    def write(*, ti=None):
        note(dag_id="slow_c", try_number=ti.try_number)
        if ti.try_number == 1:
            time.sleep(120)  # the worker is killed meanwhile

    write()

with DAG("reads_c", schedule=[C], start_date=START):

    @task
    def consume(*, triggering_dataset_events=None, dag_run=None):
        note(dag_id="reads_c", run_id=dag_run.run_id, events=len(triggering_dataset_events["s3://lake/c"]))

    consume()
"""


def test_a_producer_whose_worker_is_killed_sends_its_event_once_from_the_retry(cluster: Cluster, tmp_path: Path):
    ledger = tmp_path / "ledger.jsonl"
    (cluster.dags_folder / "crash.py").write_text(textwrap.dedent(CRASH_DAGS.format(ledger=str(ledger))))
    cluster.start_scheduler()
    cluster.start_worker("w1")
    for dag_id in ("slow_c", "reads_c"):
        cluster.wait_for_dag(dag_id)
    run_id = cluster.trigger("slow_c")
    _await_lines(cluster, ledger, "slow_c", 1)
    cluster.kill("w1")  # kill -9 of the worker and its task's process, mid-try
    cluster.start_worker("w2")

    assert cluster.wait_for_run("slow_c", run_id, timeout=90) == "success"
    _await_lines(cluster, ledger, "reads_c", 1)
    assert [line["try_number"] for line in _lines_of(ledger, "slow_c")] == [1, 2]
    with session_scope(cluster.factory) as session:
        (event,) = dataset_reads.list_events(session, uri="s3://lake/c")
        assert (event.source_dag_id, event.source_run_id) == ("slow_c", run_id)
        assert dataset_reads.queued(session) == []
    (consumed,) = _lines_of(ledger, "reads_c")
    assert consumed["events"] == 1
