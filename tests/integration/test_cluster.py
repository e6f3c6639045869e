"""A real cluster — scheduler and workers as separate processes over Postgres and Redis — keeps
the promises of ARCHITECTURE.md: every example DAG ends as it does in Airflow, XCom crosses
workers, and a killed worker, a flushed Redis, a restarted scheduler or a second scheduler
lose no task and run no try twice.
"""

from __future__ import annotations

import shutil
import signal
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from cluster import Cluster, wait_until

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "dags"
sys.path.insert(0, str(REPO / "tests" / "dags"))
from expected_states import EXPECTED_STATES as EXPECTED  # noqa: E402

pytestmark = pytest.mark.integration

#: A Redis database of its own, so other test modules flushing theirs cannot touch the cluster's.
CLUSTER_REDIS_DB = 13


@pytest.fixture
def cluster_redis(_redis_db: int) -> Iterator[str]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=CLUSTER_REDIS_DB)
    client.flushdb()
    yield f"redis://127.0.0.1:6379/{CLUSTER_REDIS_DB}"
    client.flushdb()
    client.close()


@pytest.fixture
def cluster(tmp_path: Path, fresh_pg_url: str, cluster_redis: str, dags_folder: Path) -> Iterator[Cluster]:
    home = tmp_path / "home"
    cluster = Cluster(home, fresh_pg_url, cluster_redis, dags_folder)
    cluster.cli("db", "migrate")
    yield cluster
    cluster.stop_all()


def write_dag(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def side_effect_dag(
    folder: Path, dag_id: str, record: Path, *, tasks: int = 3, sleep: float = 0.0, retries: int = 1
) -> None:
    """A chain of tasks that each append "<run_id> <task_id> <try>" to ``record``."""
    write_dag(
        folder,
        dag_id,
        f'''
        import time
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, PythonOperator

        def record(ti, run_id, **_):
            with open({str(record)!r}, "a") as f:
                f.write(f"{{run_id}} {{ti.task_id}} {{ti.try_number}} start\\n")
            time.sleep({sleep})
            with open({str(record)!r}, "a") as f:
                f.write(f"{{run_id}} {{ti.task_id}} {{ti.try_number}} done\\n")

        with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 max_active_runs=50, default_args={{"retries": {retries}, "retry_delay": timedelta(seconds=0)}}):
            previous = None
            for i in range({tasks}):
                step = PythonOperator(task_id=f"step_{{i}}", python_callable=record)
                if previous is not None:
                    previous >> step
                previous = step
    ''',
    )


def done_lines(record: Path) -> Counter[tuple[str, str]]:
    """How many times each (run, task) completed an execution."""
    lines = record.read_text().splitlines() if record.exists() else []
    return Counter((p[0], p[1]) for p in (line.split() for line in lines) if p[3] == "done")


def started_tries(record: Path) -> Counter[tuple[str, str, str]]:
    lines = record.read_text().splitlines() if record.exists() else []
    return Counter((p[0], p[1], p[2]) for p in (line.split() for line in lines) if p[3] == "start")


def test_every_example_dag_ends_as_in_airflow_with_xcom_crossing_workers(cluster: Cluster, dags_folder: Path):
    for path in EXAMPLES.glob("*.py"):
        shutil.copy(path, dags_folder / path.name)
    # example_plugin_timetable's timetable comes from the example plugin, in the home's plugins folder.
    shutil.copytree(EXAMPLES.parent / "plugins", cluster.home / "plugins", dirs_exist_ok=True)
    write_dag(
        dags_folder,
        "xcom_across_workers",
        """
        from datetime import datetime, timezone
        from tradewind import DAG, task

        with DAG("xcom_across_workers", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            @task(queue="only_w1")
            def produce():
                return {"rows": 42}

            @task(queue="only_w2")
            def consume(value):
                assert value == {"rows": 42}, value
                return value["rows"]

            consume(produce())
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1", queues="default,only_w1")
    cluster.start_worker("w2", queues="default,only_w2")
    cluster.start_triggerer()  # example_deferrable's tasks wait in it
    for dag_id in [*EXPECTED, "xcom_across_workers"]:
        cluster.wait_for_dag(dag_id)
    run_ids = {dag_id: cluster.trigger(dag_id) for dag_id in ["xcom_across_workers"]}
    # An example that needs another DAG's run at its own logical date gets both at a date of its own.
    for index, (dag_id, expected) in enumerate(EXPECTED.items()):
        when = expected.get("logical_date")
        if expected.get("needs"):
            when = (datetime.now(UTC) - timedelta(days=400 + index)).isoformat()
            for needed in expected["needs"]:
                cluster.trigger(needed, logical_date=when)
        run_ids[dag_id] = cluster.trigger(dag_id, logical_date=when)

    for dag_id, expected in EXPECTED.items():
        if expected.get("paused"):
            continue
        assert cluster.wait_for_run(dag_id, run_ids[dag_id], timeout=90) == expected["run_state"], dag_id
        assert cluster.states(dag_id, run_ids[dag_id]) == expected.get("triggered_tasks", expected["tasks"]), dag_id

    # A DAG created paused holds its manual run, queued, while every other run has ended.
    for dag_id in (dag_id for dag_id, expected in EXPECTED.items() if expected.get("paused")):
        assert cluster.run_state(dag_id, run_ids[dag_id]) == "queued", dag_id

    assert cluster.wait_for_run("xcom_across_workers", run_ids["xcom_across_workers"]) == "success"
    rows = cluster.task_rows("xcom_across_workers", run_ids["xcom_across_workers"])
    assert (rows["produce"].hostname, rows["consume"].hostname) == ("w1", "w2")
    used = {row.hostname for d, r in run_ids.items() for row in cluster.task_rows(d, r).values() if row.hostname}
    assert {"w1", "w2"} <= used


def test_retries_timeouts_reschedule_sensors_and_catchup_behave_as_in_airflow(cluster: Cluster, dags_folder: Path):
    write_dag(
        dags_folder,
        "behaviour",
        """
        from datetime import datetime, timedelta, timezone
        from pathlib import Path
        from tradewind import DAG, BashOperator, PythonSensor, task

        with DAG("behaviour", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            @task(retries=2, retry_delay=timedelta(seconds=1))
            def flaky(ti=None):
                if ti.try_number < 2:
                    raise RuntimeError("first try fails")
                return ti.try_number

            slow = BashOperator(task_id="slow", bash_command="sleep 30",
                                execution_timeout=timedelta(seconds=2))

            def third_poke(ti=None):
                # XCom of a try is cleared at each poke, as in Airflow: count pokes in a file.
                counter = Path(__file__).with_name(f".pokes-{ti.run_id}")
                pokes = int(counter.read_text()) + 1 if counter.exists() else 1
                counter.write_text(str(pokes))
                return pokes >= 3

            sensor = PythonSensor(task_id="sensor", python_callable=third_poke, mode="reschedule",
                                  poke_interval=0.5, timeout=60)
            flaky()
    """,
    )
    write_dag(
        dags_folder,
        "daily_catchup",
        """
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, EmptyOperator, BashOperator
        start = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
        with DAG("daily_catchup", schedule="@daily", start_date=start, catchup=True, max_active_runs=5):
            BashOperator(task_id="echo", bash_command="echo {{ ds }}")
    """,
    )
    write_dag(
        dags_folder,
        "daily_no_catchup",
        """
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, BashOperator
        start = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
        with DAG("daily_no_catchup", schedule="@daily", start_date=start, catchup=False):
            BashOperator(task_id="echo", bash_command="echo {{ ds }}")
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1")
    cluster.wait_for_dag("behaviour")
    run_id = cluster.trigger("behaviour")
    assert cluster.wait_for_run("behaviour", run_id, timeout=60) == "failed"
    rows = cluster.task_rows("behaviour", run_id)
    assert (rows["flaky"].state, rows["flaky"].try_number) == ("success", 2)
    # execution_timeout fails the try long before `sleep 30` ends; no retries are configured.
    assert rows["slow"].state == "failed" and rows["slow"].duration < 20
    # A reschedule-mode sensor hands its slot back between pokes without using a try.
    assert (rows["sensor"].state, rows["sensor"].try_number) == ("success", 1)

    def runs_of(dag_id: str) -> list[str]:
        from tradewind.metastore import runs
        from tradewind.metastore.engine import session_scope

        with session_scope(cluster.factory) as session:
            return [r.state for r in runs.list_runs(session, dag_id)]

    # Three complete daily intervals have passed since start_date: catchup creates all three.
    assert wait_until(
        lambda: runs_of("daily_catchup") == ["success"] * 3, 60, lambda: f"catchup runs: {runs_of('daily_catchup')}"
    )
    assert wait_until(
        lambda: runs_of("daily_no_catchup") == ["success"],
        30,
        lambda: f"no-catchup runs: {runs_of('daily_no_catchup')}",
    )


def test_a_worker_killed_mid_task_loses_nothing_and_the_task_is_retried_elsewhere(
    cluster: Cluster,
    dags_folder: Path,
    tmp_path: Path,
):
    record = tmp_path / "executions.txt"
    side_effect_dag(dags_folder, "killed_worker", record, tasks=2, sleep=4.0, retries=1)
    cluster.start_scheduler()
    cluster.start_worker("doomed")
    cluster.wait_for_dag("killed_worker")
    run_id = cluster.trigger("killed_worker")
    wait_until(lambda: cluster.states("killed_worker", run_id)["step_0"] == "running", 30)
    wait_until(lambda: record.exists(), 10)
    cluster.kill("doomed", signal.SIGKILL)  # the machine dies: worker, pool and task process at once
    cluster.start_worker("survivor")

    assert cluster.wait_for_run("killed_worker", run_id, timeout=90) == "success"
    rows = cluster.task_rows("killed_worker", run_id)
    assert rows["step_0"].try_number == 2 and rows["step_0"].hostname == "survivor"
    assert done_lines(record) == {(run_id, "step_0"): 1, (run_id, "step_1"): 1}
    assert all(count == 1 for count in started_tries(record).values())


def test_two_schedulers_run_every_task_instance_of_20_runs_exactly_once(
    cluster: Cluster,
    dags_folder: Path,
    tmp_path: Path,
):
    record = tmp_path / "executions.txt"
    side_effect_dag(dags_folder, "twenty_runs", record, tasks=3, retries=0)
    cluster.start_scheduler("scheduler_a")
    cluster.start_scheduler("scheduler_b")
    cluster.start_worker("w1", concurrency=6)
    cluster.start_worker("w2", concurrency=6)
    cluster.wait_for_dag("twenty_runs")
    run_ids = [cluster.trigger("twenty_runs") for _ in range(20)]

    for run_id in run_ids:
        assert cluster.wait_for_run("twenty_runs", run_id, timeout=120) == "success"
    assert done_lines(record) == {(r, f"step_{i}"): 1 for r in run_ids for i in range(3)}
    assert all(count == 1 for count in started_tries(record).values())


def test_flushed_redis_and_a_restarted_scheduler_lose_no_run_and_repeat_no_try(
    cluster: Cluster,
    dags_folder: Path,
    tmp_path: Path,
    cluster_redis: str,
):
    record = tmp_path / "executions.txt"
    side_effect_dag(dags_folder, "survivor_runs", record, tasks=4, sleep=0.5, retries=0)
    cluster.start_scheduler()
    cluster.wait_for_dag("survivor_runs")
    run_ids = [cluster.trigger("survivor_runs") for _ in range(3)]
    # No worker yet: the first tasks are queued in Redis when Redis loses everything.
    wait_until(lambda: all(cluster.states("survivor_runs", r)["step_0"] == "queued" for r in run_ids), 30)
    redis.Redis.from_url(cluster_redis).flushdb()
    cluster.kill("scheduler", signal.SIGKILL)
    cluster.start_worker("w1")
    cluster.start_scheduler("scheduler_again")

    for run_id in run_ids:
        assert cluster.wait_for_run("survivor_runs", run_id, timeout=90) == "success"
    assert done_lines(record) == {(r, f"step_{i}"): 1 for r in run_ids for i in range(4)}
    assert all(count == 1 for count in started_tries(record).values())


def test_a_broken_dag_file_appearing_is_an_import_error_and_other_dags_go_on(cluster: Cluster, dags_folder: Path):
    shutil.copy(EXAMPLES / "example_bash_python.py", dags_folder)
    cluster.start_scheduler()
    cluster.start_worker("w1")
    cluster.wait_for_dag("example_bash_python")
    write_dag(
        dags_folder,
        "broken",
        """
        from tradewind import DAG
        with DAG("broken", schedule="61 * * * *") as dag:
            pass
    """,
    )

    def import_errors() -> list[str]:
        result = cluster.cli("dags", "list-import-errors", "-o", "json", check=False)
        import json

        return [e["error"] for e in json.loads(result.stdout or "[]")]

    errors = wait_until(import_errors, 30)
    assert "broken.py" in errors[0] and "61 * * * *" in errors[0]
    run_id = cluster.trigger("example_bash_python")
    assert cluster.wait_for_run("example_bash_python", run_id) == "success"


def test_a_worker_told_to_stop_finishes_its_task_and_leaves_the_next_one_to_another_worker(
    cluster: Cluster,
    dags_folder: Path,
    tmp_path: Path,
):
    """SIGTERM (docker stop): the running task finishes and is recorded; the worker does not claim
    the next task of the chain for itself on its way out (its follow-up sends it through the
    broker), so the next task runs on the worker that is still up, once."""
    record = tmp_path / "executions.txt"
    side_effect_dag(dags_folder, "drained", record, tasks=2, sleep=3.0)
    cluster.start_scheduler()
    leaving = cluster.start_worker("leaving")
    cluster.wait_for_dag("drained")
    run_id = cluster.trigger("drained")
    wait_until(lambda: cluster.states("drained", run_id)["step_0"] == "running", 30)
    wait_until(lambda: record.exists(), 10)
    leaving.send_signal(signal.SIGTERM)
    cluster.start_worker("staying")

    assert leaving.wait(timeout=60) == 0, cluster.log_of("leaving")
    assert cluster.wait_for_run("drained", run_id, timeout=90) == "success"
    rows = cluster.task_rows("drained", run_id)
    assert rows["step_0"].hostname == "leaving" and rows["step_0"].state == "success"
    assert rows["step_1"].hostname == "staying"
    assert done_lines(record) == {(run_id, "step_0"): 1, (run_id, "step_1"): 1}
