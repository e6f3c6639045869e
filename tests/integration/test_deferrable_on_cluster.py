"""Deferred tasks on a real cluster — a scheduler, two workers, two triggerers, PostgreSQL and
Redis: hundreds of sensors waiting at once hold no worker slot and all resume when their time
comes; a triggerer killed with SIGKILL has its triggers taken over by the other, and no task
resumes twice (each resumed method appends a line to a ledger); a trigger that raises fails its
task with the traceback in the task's log, and its retry starts afresh."""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cluster import Cluster, wait_until
from sqlalchemy import func, select
from test_cluster import write_dag

from tradewind.metastore import logs
from tradewind.metastore.engine import session_scope
from tradewind.metastore.models import Job, TaskInstance, Trigger
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration

#: Seconds without a heartbeat after which a triggerer's triggers go to another (short for the test).
TRIGGERER_THRESHOLD = 3.0


@pytest.fixture
def cluster(tmp_path: Path, fresh_pg_url: str, redis_url: str, dags_folder: Path) -> Iterator[Cluster]:
    cluster = Cluster(
        tmp_path / "home",
        fresh_pg_url,
        redis_url,
        dags_folder,
        extra_env={
            "TRADEWIND_TRIGGERER_HEALTH_CHECK_THRESHOLD": str(TRIGGERER_THRESHOLD),
            "TRADEWIND_TRIGGERER_HEARTBEAT_INTERVAL": "0.5",
            "TRADEWIND_PARALLELISM": "256",
        },
    )
    cluster.cli("db", "migrate")
    yield cluster
    cluster.stop_all()


def state_counts(cluster: Cluster, dag_id: str) -> Counter[str]:
    with session_scope(cluster.factory) as session:
        rows = session.execute(
            select(TaskInstance.state, func.count()).where(TaskInstance.dag_id == dag_id).group_by(TaskInstance.state)
        )
        return Counter({state: count for state, count in rows})


def triggerer_job_id(cluster: Cluster, name: str) -> int:
    pid = cluster.processes[name].pid

    def find() -> int | None:
        with session_scope(cluster.factory) as session:
            return session.scalar(select(Job.id).where(Job.job_type == "triggerer", Job.pid == pid))

    return wait_until(find, 30, lambda: f"triggerer {name} never started\n{cluster.tail_logs()}")


def holders(cluster: Cluster) -> Counter[int | None]:
    with session_scope(cluster.factory) as session:
        return Counter(session.scalars(select(Trigger.triggerer_id)).all())


def task_log(cluster: Cluster, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
    with session_scope(cluster.factory) as session:
        return logs.read_log(session, TIKey(dag_id, run_id, task_id), try_number)[0]


def test_two_hundred_deferred_sensors_hold_no_worker_slot_and_all_resume_on_time(cluster: Cluster, dags_folder: Path):
    write_dag(
        dags_folder,
        "many_deferred",
        """
        from datetime import datetime, timezone
        from airflow import DAG
        from airflow.sensors.date_time import DateTimeSensor

        with DAG("many_deferred", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 max_active_tasks=400):
            for i in range(200):
                DateTimeSensor(task_id=f"wait_{i:03d}", target_time="{{ dag_run.conf['at'] }}", deferrable=True)
        """,
    )
    write_dag(
        dags_folder,
        "meanwhile",
        """
        from datetime import datetime, timezone
        from airflow import DAG
        from airflow.operators.bash import BashOperator

        with DAG("meanwhile", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            BashOperator(task_id="echo", bash_command="echo a free slot")
        """,
    )
    cluster.start_scheduler()
    # Four worker slots in all, for 200 sensors: only a sensor that gives its slot back lets them all wait.
    cluster.start_worker("w1", concurrency=2)
    cluster.start_worker("w2", concurrency=2)
    cluster.start_triggerer("t1")
    cluster.start_triggerer("t2")
    cluster.wait_for_dag("many_deferred")
    cluster.wait_for_dag("meanwhile")
    at = datetime.now(UTC) + timedelta(seconds=50)
    run_id = cluster.trigger("many_deferred", conf={"at": at.isoformat()})

    wait_until(
        lambda: state_counts(cluster, "many_deferred")["deferred"] == 200,
        45,
        lambda: f"not all deferred: {state_counts(cluster, 'many_deferred')}\n{cluster.tail_logs()}",
    )
    assert datetime.now(UTC) < at, "the sensors took longer to defer than the test allows; raise the target"
    counts = state_counts(cluster, "many_deferred")
    assert counts["running"] == 0 and counts["queued"] == 0, counts
    # With every sensor waiting, the workers are free: another DAG's task runs at once.
    other = cluster.trigger("meanwhile")
    assert cluster.wait_for_run("meanwhile", other, timeout=30) == "success"
    assert cluster.run_state("many_deferred", run_id) == "running"
    # Both triggerers hold a share of the triggers.
    assert len([holder for holder in holders(cluster) if holder is not None]) == 2, holders(cluster)

    assert cluster.wait_for_run("many_deferred", run_id, timeout=120) == "success"
    rows = cluster.task_rows("many_deferred", run_id)
    assert {row.state for row in rows.values()} == {"success"}
    # Each resumed in its first try, after its moment and well within a minute of it.
    assert {row.try_number for row in rows.values()} == {1}
    late = {task_id: (row.end_date - at).total_seconds() for task_id, row in rows.items()}
    assert not {task_id: s for task_id, s in late.items() if not 0 <= s < 60}, sorted(
        late.items(), key=lambda kv: kv[1]
    )
    log = task_log(cluster, "many_deferred", run_id, "wait_000")
    assert "Pausing task as DEFERRED" in log and "Resuming after deferral: execute_complete" in log, log
    with session_scope(cluster.factory) as session:
        assert session.scalar(select(func.count()).select_from(Trigger)) == 0


def _ledger_dag(dags_folder: Path, ledger: Path, tasks: int) -> None:
    write_dag(
        dags_folder,
        "ledgered",
        f"""
        from datetime import datetime, timezone
        from airflow import DAG
        from airflow.models.baseoperator import BaseOperator
        from airflow.triggers.temporal import DateTimeTrigger

        LEDGER = {str(ledger)!r}


        class WaitThenWrite(BaseOperator):
            def execute(self, context):
                at = datetime.fromisoformat(context["dag_run"].conf["at"])
                self.defer(trigger=DateTimeTrigger(moment=at), method_name="resume")

            def resume(self, context, event=None):
                with open(LEDGER, "a") as ledger:
                    ledger.write(f"{{self.task_id}} {{context['ti'].try_number}}\\n")


        with DAG("ledgered", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            for i in range({tasks}):
                WaitThenWrite(task_id=f"task_{{i:02d}}")
        """,
    )


def test_a_killed_triggerers_triggers_resume_through_the_other_and_no_task_resumes_twice(
    cluster: Cluster, dags_folder: Path, tmp_path: Path
):
    ledger = tmp_path / "ledger.txt"
    _ledger_dag(dags_folder, ledger, tasks=20)
    cluster.start_scheduler()
    cluster.start_worker("w1", concurrency=4)
    cluster.start_worker("w2", concurrency=4)
    cluster.start_triggerer("t1")
    cluster.start_triggerer("t2")
    t1, t2 = triggerer_job_id(cluster, "t1"), triggerer_job_id(cluster, "t2")
    cluster.wait_for_dag("ledgered")
    at = datetime.now(UTC) + timedelta(seconds=25)
    run_id = cluster.trigger("ledgered", conf={"at": at.isoformat()})
    wait_until(
        lambda: state_counts(cluster, "ledgered")["deferred"] == 20 and holders(cluster)[None] == 0,
        20,
        lambda: f"{state_counts(cluster, 'ledgered')} {holders(cluster)}\n{cluster.tail_logs()}",
    )
    wait_until(lambda: holders(cluster)[t1] > 0, 10, lambda: f"t1 holds nothing: {holders(cluster)}")
    # Probes written for Airflow find the triggerers alive.
    assert "triggerer alive" in cluster.cli("jobs", "check", "--job-type", "TriggererJob").stdout
    # What a person sees meanwhile: the tasks are deferred.
    shown = json.loads(cluster.cli("tasks", "states-for-dag-run", "ledgered", run_id, "-o", "json").stdout)
    assert {row["state"] for row in shown} == {"deferred"}, shown

    cluster.kill("t1", signal.SIGKILL)
    killed_at = datetime.now(UTC)
    wait_until(
        lambda: holders(cluster) == Counter({t2: 20}),
        TRIGGERER_THRESHOLD + 10,
        lambda: f"t1's triggers were not taken over: {holders(cluster)}\n{cluster.log_of('t2')[-3000:]}",
    )
    assert (datetime.now(UTC) - killed_at).total_seconds() < at.timestamp() - killed_at.timestamp()

    assert cluster.wait_for_run("ledgered", run_id, timeout=90) == "success"
    lines = ledger.read_text().splitlines()
    assert Counter(lines) == Counter(f"task_{i:02d} 1" for i in range(20)), lines


def test_a_trigger_that_raises_fails_its_task_with_the_traceback_in_its_log(cluster: Cluster, dags_folder: Path):
    plugins = cluster.home / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "exploding_trigger.py").write_text(
        "from airflow.triggers.base import BaseTrigger\n\n\n"
        "class ExplodingTrigger(BaseTrigger):\n"
        "    def serialize(self):\n"
        "        return ('exploding_trigger.ExplodingTrigger', {})\n\n"
        "    async def run(self):\n"
        "        raise RuntimeError('the upstream service said no')\n"
        "        yield\n"
    )
    write_dag(
        dags_folder,
        "exploding",
        """
        from datetime import datetime, timedelta, timezone
        from airflow import DAG
        from airflow.models.baseoperator import BaseOperator
        from exploding_trigger import ExplodingTrigger


        class Defers(BaseOperator):
            def execute(self, context):
                self.defer(trigger=ExplodingTrigger(), method_name="resume")

            def resume(self, context, event=None):
                raise AssertionError("never called: the trigger failed")


        with DAG("exploding", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            Defers(task_id="defers", retries=1, retry_delay=timedelta(0))
        """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1", concurrency=2)
    cluster.start_triggerer("t1")
    cluster.wait_for_dag("exploding")
    run_id = cluster.trigger("exploding")
    assert cluster.wait_for_run("exploding", run_id, timeout=60) == "failed"
    row = cluster.task_rows("exploding", run_id)["defers"]
    # Retries apply: the second try starts afresh at execute, defers again, and fails the same way.
    assert (row.state, row.try_number) == ("failed", 2)
    for try_number in (1, 2):
        log = task_log(cluster, "exploding", run_id, "defers", try_number)
        assert "Pausing task as DEFERRED" in log, log
        assert "Trigger failed:" in log, log
        assert "RuntimeError: the upstream service said no" in log, log
        assert "TaskDeferralError: Trigger failure" in log, log
    assert "Marking task as UP_FOR_RETRY." in task_log(cluster, "exploding", run_id, "defers", 1)
    assert json.dumps(row.next_kwargs or {}) == "{}"
