"""Dependencies across DAGs and runs, and DAG-level callbacks, on a real cluster (scheduler and worker
processes over Postgres and Redis): ExternalTaskSensor between two scheduled DAGs,
TriggerDagRunOperator waiting for the run it made, depends_on_past over catchup runs, and DAG
callbacks run once per run end by the scheduler, a broken one only logged.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from cluster import Cluster, wait_until

from tradewind.metastore import logs, runs, xcoms
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(tmp_path: Path, fresh_pg_url: str, redis_url: str) -> Iterator[Cluster]:
    folder = tmp_path / "dags"
    folder.mkdir()
    cluster = Cluster(tmp_path / "home", fresh_pg_url, redis_url, folder)
    cluster.cli("db", "migrate")
    yield cluster
    cluster.stop_all()


def write_dag(cluster: Cluster, name: str, source: str) -> None:
    (cluster.dags_folder / f"{name}.py").write_text(textwrap.dedent(source))


def run_states(cluster: Cluster, dag_id: str) -> dict[datetime, str]:
    with session_scope(cluster.factory) as session:
        return {r.logical_date: r.state for r in runs.list_runs(session, dag_id, newest_first=False)}


def wait_for_runs(cluster: Cluster, dag_id: str, count: int, timeout: float = 90) -> list[tuple[str, str]]:
    """(run_id, state) of the DAG's runs once ``count`` of them have ended, oldest first."""

    def ended() -> list[tuple[str, str]] | None:
        with session_scope(cluster.factory) as session:
            found = [(r.run_id, r.state) for r in runs.list_runs(session, dag_id, newest_first=False)]
        done = [f for f in found if f[1] in ("success", "failed")]
        return found if len(found) >= count and len(done) == len(found) else None

    return wait_until(ended, timeout, lambda: f"{dag_id}: runs {run_states(cluster, dag_id)}\n{cluster.tail_logs()}")


def task_log(cluster: Cluster, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
    with session_scope(cluster.factory) as session:
        text, _ = logs.read_log(session, TIKey(dag_id, run_id, task_id), try_number)
    return text


def test_external_task_sensor_waits_for_the_upstream_run_at_its_date_and_fails_when_it_fails(cluster: Cluster):
    # Two scheduled DAGs with the same daily schedule: two runs each. The upstream's `produce` takes
    # a few seconds and fails on the second day; the sensor waits for it at the same logical date.
    common = """
        from datetime import datetime, timedelta, timezone
        START = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    """
    write_dag(
        cluster,
        "upstream",
        common
        + """
        import time
        from tradewind import DAG, PythonOperator

        def produce(ds, data_interval_start):
            time.sleep(3)
            if data_interval_start.date() != START.date():
                raise RuntimeError(f"no data for {ds}")

        with DAG("upstream", schedule="@daily", start_date=START, catchup=True, max_active_runs=2):
            PythonOperator(task_id="produce", python_callable=produce)
    """,
    )
    write_dag(
        cluster,
        "downstream",
        common
        + """
        from tradewind import DAG, BashOperator, ExternalTaskSensor

        with DAG("downstream", schedule="@daily", start_date=START, catchup=True, max_active_runs=2):
            wait = ExternalTaskSensor(task_id="wait", external_dag_id="upstream", external_task_id="produce",
                                      failed_states=["failed"], check_existence=True, mode="reschedule",
                                      poke_interval=0.5, timeout=120)
            wait >> BashOperator(task_id="use", bash_command="echo using {{ ds }}")
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1")

    upstream = wait_for_runs(cluster, "upstream", 2)
    downstream = wait_for_runs(cluster, "downstream", 2)

    assert [state for _, state in upstream] == ["success", "failed"]
    assert [state for _, state in downstream] == ["success", "failed"]
    first_up = cluster.task_rows("upstream", upstream[0][0])
    first_down = cluster.task_rows("downstream", downstream[0][0])
    # The sensor was still waiting when `produce` finished: it cannot have succeeded before.
    assert first_down["wait"].end_date >= first_up["produce"].end_date
    assert first_down["wait"].try_number == 1 and first_down["use"].state == "success"
    second = cluster.task_rows("downstream", downstream[1][0])
    assert (second["wait"].state, second["use"].state) == ("failed", "upstream_failed")
    log = task_log(cluster, "downstream", downstream[1][0], "wait")
    assert "Some of the external tasks ['produce'] in DAG upstream failed." in log


def test_external_task_sensor_with_check_existence_fails_at_once_for_a_missing_dag(cluster: Cluster):
    write_dag(
        cluster,
        "lonely",
        """
        from datetime import datetime, timezone
        from tradewind import DAG, ExternalTaskSensor

        with DAG("lonely", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            ExternalTaskSensor(task_id="wait", external_dag_id="no_such_dag", external_task_id="x",
                               check_existence=True, poke_interval=0.5, timeout=300)
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1")
    cluster.wait_for_dag("lonely")
    run_id = cluster.trigger("lonely")

    assert cluster.wait_for_run("lonely", run_id, timeout=60) == "failed"
    assert "The external DAG no_such_dag does not exist." in task_log(cluster, "lonely", run_id, "wait")


def test_trigger_dag_run_operator_waits_for_the_triggered_run_and_reports_its_failure(
    cluster: Cluster,
    tmp_path: Path,
):
    record = tmp_path / "target_conf.txt"
    write_dag(
        cluster,
        "target",
        f"""
        from datetime import datetime, timezone
        from tradewind import DAG, PythonOperator

        def work(dag_run):
            with open({str(record)!r}, "a") as f:
                f.write(f"{{dag_run.run_id}} {{dag_run.conf['size']}}\\n")
            if dag_run.conf.get("fail"):
                raise RuntimeError("asked to fail")

        with DAG("target", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            PythonOperator(task_id="work", python_callable=work)
    """,
    )
    write_dag(
        cluster,
        "controller",
        """
        from datetime import datetime, timezone
        from tradewind import DAG, TriggerDagRunOperator

        with DAG("controller", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 params={"size": 3}):
            TriggerDagRunOperator(task_id="run_target", trigger_dag_id="target",
                                  trigger_run_id="from_controller__{{ run_id }}",
                                  conf={"size": "{{ params.size }}"}, wait_for_completion=True, poke_interval=0.5)
            TriggerDagRunOperator(task_id="run_failing_target", trigger_dag_id="target",
                                  conf={"size": 0, "fail": True}, wait_for_completion=True, poke_interval=0.5)
            TriggerDagRunOperator(task_id="run_missing", trigger_dag_id="{{ 'no_such_' ~ 'dag' }}")
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1")
    cluster.wait_for_dag("target")
    cluster.wait_for_dag("controller")
    run_id = cluster.trigger("controller")

    assert cluster.wait_for_run("controller", run_id, timeout=90) == "failed"
    states = cluster.states("controller", run_id)
    assert states == {"run_target": "success", "run_failing_target": "failed", "run_missing": "failed"}
    triggered = f"from_controller__{run_id}"
    assert cluster.run_state("target", triggered) == "success"
    assert f"{triggered} 3" in record.read_text().splitlines()
    with session_scope(cluster.factory) as session:
        pushed = xcoms.get_xcom(session, "controller", run_id, "run_target", "trigger_run_id")
        target_run = runs.get_run(session, "target", triggered)
        assert (target_run.run_type, target_run.external_trigger, target_run.conf) == ("manual", True, {"size": "3"})
    assert pushed == triggered
    assert "target failed with failed states failed" in task_log(cluster, "controller", run_id, "run_failing_target")
    assert "DAG 'no_such_dag' not found" in task_log(cluster, "controller", run_id, "run_missing")

    # The same run id again is refused, clearly, unless reset_dag_run.
    write_dag(
        cluster,
        "again",
        f"""
        from datetime import datetime, timezone
        from tradewind import DAG, TriggerDagRunOperator

        with DAG("again", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            TriggerDagRunOperator(task_id="refused", trigger_dag_id="target", trigger_run_id={triggered!r})
            TriggerDagRunOperator(task_id="reset", trigger_dag_id="target", trigger_run_id={triggered!r},
                                  conf={{"size": 9}}, reset_dag_run=True, wait_for_completion=True,
                                  poke_interval=0.5)
    """,
    )
    cluster.wait_for_dag("again")
    again = cluster.trigger("again")
    assert cluster.wait_for_run("again", again, timeout=90) == "failed"
    assert cluster.states("again", again) == {"refused": "failed", "reset": "success"}
    assert f"already has a run with run id {triggered!r}" in task_log(cluster, "again", again, "refused")
    # The cleared run ran again (with the conf it was created with).
    assert record.read_text().splitlines().count(f"{triggered} 3") == 2


def test_depends_on_past_holds_each_catchup_run_back_until_the_previous_run_succeeded(
    cluster: Cluster,
    tmp_path: Path,
):
    record = tmp_path / "steps.txt"
    write_dag(
        cluster,
        "incremental",
        f"""
        import time
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, PythonOperator

        START = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)

        def step(ds):
            with open({str(record)!r}, "a") as f:
                f.write(f"start {{ds}} {{time.time()}}\\n")
            time.sleep(1.5)
            with open({str(record)!r}, "a") as f:
                f.write(f"end {{ds}} {{time.time()}}\\n")

        with DAG("incremental", schedule="@daily", start_date=START, catchup=True, max_active_runs=3):
            PythonOperator(task_id="step", python_callable=step, depends_on_past=True)
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1", concurrency=4)

    ended = wait_for_runs(cluster, "incremental", 3)

    assert [state for _, state in ended] == ["success"] * 3
    events = [line.split() for line in record.read_text().splitlines()]
    days = sorted({day for _, day, _ in events})
    at = {(kind, day): float(when) for kind, day, when in events}
    assert len(days) == 3 and len(events) == 6
    for earlier, later in zip(days, days[1:], strict=False):
        # All three runs were running at once; each step still began only after the previous day's ended.
        assert at[("start", later)] >= at[("end", earlier)], events


def test_depends_on_past_keeps_a_task_waiting_while_the_previous_run_failed(cluster: Cluster):
    write_dag(
        cluster,
        "blocked",
        """
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, PythonOperator

        START = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)

        def load(data_interval_start):
            if data_interval_start.date() == START.date():
                raise RuntimeError("the first day fails")

        with DAG("blocked", schedule="@daily", start_date=START, catchup=True, max_active_runs=2):
            PythonOperator(task_id="load", python_callable=load, depends_on_past=True)
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1")

    first = wait_until(
        lambda: [s for s in run_states(cluster, "blocked").values()][:1] == ["failed"],
        60,
        lambda: f"{run_states(cluster, 'blocked')}\n{cluster.tail_logs()}",
    )
    assert first
    time.sleep(3)  # several scheduler ticks
    states = list(run_states(cluster, "blocked").values())
    assert states == ["failed", "running"]  # not deadlocked, not failed: waiting for the past
    with session_scope(cluster.factory) as session:
        second = runs.list_runs(session, "blocked", newest_first=True)[0]
    assert cluster.states("blocked", second.run_id) == {"load": "none"}


def test_dag_failure_callback_runs_once_per_run_end_and_a_raising_callback_only_logs(
    cluster: Cluster,
    tmp_path: Path,
):
    marker = tmp_path / "callbacks.txt"
    write_dag(
        cluster,
        "fails_with_callback",
        f"""
        import os
        from datetime import datetime, timezone
        from tradewind import DAG, BashOperator

        def on_failure(context):
            with open({str(marker)!r}, "a") as f:
                f.write(f"{{context['dag_run'].run_id}} {{context['reason']}} {{context['dag_run'].state}} "
                        f"{{context['ti'].task_id}} {{os.getpid()}}\\n")

        with DAG("fails_with_callback", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 on_failure_callback=on_failure, on_success_callback=lambda context: 1 / 0):
            BashOperator(task_id="first", bash_command="echo ok") >> BashOperator(task_id="boom", bash_command="exit 3")
    """,
    )
    write_dag(
        cluster,
        "succeeds_with_broken_callback",
        """
        from datetime import datetime, timezone
        from tradewind import DAG, BashOperator

        def broken(context):
            raise ValueError("this callback is broken")

        with DAG("succeeds_with_broken_callback", schedule=None,
                 start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), on_success_callback=broken):
            BashOperator(task_id="only", bash_command="echo fine")
    """,
    )
    # Two schedulers and a worker that follows up on its own runs: each end still gets one callback.
    cluster.start_scheduler("scheduler_a")
    cluster.start_scheduler("scheduler_b")
    cluster.start_worker("w1")
    cluster.wait_for_dag("fails_with_callback")
    cluster.wait_for_dag("succeeds_with_broken_callback")
    failing = [cluster.trigger("fails_with_callback") for _ in range(3)]
    broken = cluster.trigger("succeeds_with_broken_callback")

    for run_id in failing:
        assert cluster.wait_for_run("fails_with_callback", run_id) == "failed"
    assert cluster.wait_for_run("succeeds_with_broken_callback", broken) == "success"
    wait_until(lambda: marker.exists() and len(marker.read_text().splitlines()) >= 3, 30, cluster.tail_logs)
    wait_until(
        lambda: "this callback is broken" in cluster.log_of("scheduler_a") + cluster.log_of("scheduler_b"),
        30,
        cluster.tail_logs,
    )
    time.sleep(2)  # time for a wrong second call to show up
    lines = [line.split() for line in marker.read_text().splitlines()]
    assert sorted(line[0] for line in lines) == sorted(failing)  # exactly once per run end
    # Airflow's context: the run's last task instance as ``ti``, the run as it ended, and the reason.
    assert {tuple(line[1:4]) for line in lines} == {("task_failure", "failed", "first")}
    scheduler_pids = {str(p.pid) for p in cluster.processes.values()}
    assert not scheduler_pids & {line[4] for line in lines}  # run in a child, never in a scheduler
    scheduler_logs = cluster.log_of("scheduler_a") + cluster.log_of("scheduler_b")
    assert "failed to invoke dag state update callback of succeeds_with_broken_callback" in scheduler_logs
    assert "ValueError: this callback is broken" in scheduler_logs

    # The schedulers keep scheduling after the broken callback.
    after = cluster.trigger("succeeds_with_broken_callback")
    assert cluster.wait_for_run("succeeds_with_broken_callback", after) == "success"


def test_dags_test_calls_the_dag_callback_of_the_runs_end_once(cluster: Cluster, tmp_path: Path):
    marker = tmp_path / "dags_test_callbacks.txt"
    write_dag(
        cluster,
        "tested",
        f"""
        from datetime import datetime, timezone
        from tradewind import DAG, BashOperator

        def record(context):
            with open({str(marker)!r}, "a") as f:
                f.write(f"{{context['dag_run'].run_id}} {{context['reason']}}\\n")

        with DAG("tested", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 params={{"code": 0}}, on_success_callback=record, on_failure_callback=record):
            BashOperator(task_id="t", bash_command="exit {{{{ params.code }}}}")
    """,
    )

    assert cluster.cli("dags", "test", "tested", "2024-01-01", "-q", check=False).returncode == 0
    assert (
        cluster.cli("dags", "test", "tested", "2024-01-02", "-q", "--conf", '{"code": 4}', check=False).returncode == 1
    )

    assert marker.read_text().splitlines() == [
        "manual__2024-01-01T00:00:00+00:00 success",
        "manual__2024-01-02T00:00:00+00:00 task_failure",
    ]


def test_task_callbacks_fire_at_their_moments_and_a_raising_one_is_only_logged(cluster: Cluster, tmp_path: Path):
    marker = tmp_path / "task_callbacks.txt"
    write_dag(
        cluster,
        "task_callbacks",
        f"""
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, PythonOperator

        def note(kind):
            def callback(context):
                with open({str(marker)!r}, "a") as f:
                    error = type(context.get("exception")).__name__ if context.get("exception") else "-"
                    f.write(f"{{context['ti'].task_id}} {{kind}} {{context['ti'].try_number}} {{error}}\\n")
            return callback

        def fail_until(third):
            def work(ti):
                if not third or ti.try_number < 3:
                    raise RuntimeError(f"try {{ti.try_number}} fails")
            return work

        def broken(context):
            raise KeyError("broken callback")

        callbacks = {{name: note(name) for name in ("execute", "success", "retry", "failure")}}
        with DAG("task_callbacks", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 default_args={{"retry_delay": timedelta(0), "on_execute_callback": callbacks["execute"],
                                "on_success_callback": callbacks["success"], "on_retry_callback": callbacks["retry"],
                                "on_failure_callback": callbacks["failure"]}}):
            PythonOperator(task_id="flaky", python_callable=fail_until(True), retries=2)
            PythonOperator(task_id="doomed", python_callable=fail_until(False), retries=1)
            PythonOperator(task_id="noisy", python_callable=lambda: "fine", on_success_callback=broken)
    """,
    )

    result = cluster.cli("dags", "test", "task_callbacks", "2024-01-01", "-q", check=False)

    assert result.returncode == 1, result.stderr
    lines = marker.read_text().splitlines()
    assert [line for line in lines if line.startswith("flaky")] == [
        "flaky execute 1 -",
        "flaky retry 1 RuntimeError",
        "flaky execute 2 -",
        "flaky retry 2 RuntimeError",
        "flaky execute 3 -",
        "flaky success 3 -",
    ]
    assert [line for line in lines if line.startswith("doomed")] == [
        "doomed execute 1 -",
        "doomed retry 1 RuntimeError",
        "doomed execute 2 -",
        "doomed failure 2 RuntimeError",
    ]
    assert [line for line in lines if line.startswith("noisy")] == ["noisy execute 1 -"]
    run_id = "manual__2024-01-01T00:00:00+00:00"
    assert cluster.states("task_callbacks", run_id) == {"flaky": "success", "doomed": "failed", "noisy": "success"}
    noisy_log = task_log(cluster, "task_callbacks", run_id, "noisy")
    assert "on_success_callback of noisy failed" in noisy_log and "KeyError: 'broken callback'" in noisy_log


def test_latest_only_skips_downstream_in_older_catchup_runs_but_not_in_the_latest(cluster: Cluster):
    write_dag(
        cluster,
        "latest",
        """
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, BashOperator, LatestOnlyOperator

        START = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)

        with DAG("latest", schedule="@daily", start_date=START, catchup=True, max_active_runs=3):
            latest = LatestOnlyOperator(task_id="latest_only")
            notify = BashOperator(task_id="notify", bash_command="echo notify")
            latest >> notify >> BashOperator(task_id="after_notify", bash_command="echo after")
            BashOperator(task_id="always", bash_command="echo always")
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1")

    ended = wait_for_runs(cluster, "latest", 3)

    assert [state for _, state in ended] == ["success"] * 3
    skipped = {"latest_only": "success", "notify": "skipped", "after_notify": "skipped", "always": "success"}
    ran = {"latest_only": "success", "notify": "success", "after_notify": "success", "always": "success"}
    assert [cluster.states("latest", run_id) for run_id, _ in ended] == [skipped, skipped, ran]
    assert "Not latest execution, skipping downstream." in task_log(cluster, "latest", ended[0][0], "latest_only")


def test_external_task_sensor_over_task_groups_several_tasks_shifted_dates_and_skipped_states(cluster: Cluster):
    write_dag(
        cluster,
        "producer",
        """
        from datetime import datetime, timezone
        from tradewind import DAG, AirflowSkipException, PythonOperator, TaskGroup

        def skip():
            raise AirflowSkipException("nothing today")

        with DAG("producer", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            with TaskGroup("ingest"):
                PythonOperator(task_id="a", python_callable=lambda: 1)
                PythonOperator(task_id="b", python_callable=lambda: 2)
            PythonOperator(task_id="optional", python_callable=skip)
    """,
    )
    write_dag(
        cluster,
        "consumer",
        """
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, ExternalTaskSensor

        with DAG("consumer", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            common = dict(external_dag_id="producer", poke_interval=0.2, timeout=1)
            ExternalTaskSensor(task_id="group", external_task_group_id="ingest", **common)
            ExternalTaskSensor(task_id="tasks", external_task_ids=["ingest.a", "ingest.b"], **common)
            ExternalTaskSensor(task_id="yesterday", external_task_id="ingest.a",
                               execution_delta=timedelta(days=1), **common)
            ExternalTaskSensor(task_id="by_fn", external_task_id=None,
                               execution_date_fn=lambda dt, **_: dt - timedelta(days=1), **common)
            ExternalTaskSensor(task_id="skips", external_task_id="optional", skipped_states=["skipped"],
                               execution_delta=timedelta(days=1), **common)
            ExternalTaskSensor(task_id="missing_group", external_task_group_id="nope", check_existence=True,
                               **common)
            ExternalTaskSensor(task_id="no_run_yet", external_task_id="ingest.a",
                               execution_delta=timedelta(days=-30), **common)
    """,
    )

    assert cluster.cli("dags", "test", "producer", "2024-01-01", "-q", check=False).returncode == 0
    result = cluster.cli("dags", "test", "consumer", "2024-01-02", "-q", check=False)

    assert result.returncode == 1, result.stderr
    run_id = "manual__2024-01-02T00:00:00+00:00"
    assert cluster.states("consumer", run_id) == {
        "group": "failed",
        "tasks": "failed",
        "yesterday": "success",
        "by_fn": "success",
        "skips": "skipped",
        "missing_group": "failed",
        "no_run_yet": "failed",
    }
    assert "The external task group 'nope' in DAG 'producer' does not exist." in task_log(
        cluster, "consumer", run_id, "missing_group"
    )
    assert "Sensor has timed out" in task_log(cluster, "consumer", run_id, "no_run_yet")
    # The same day as the producer's run: the group and the listed tasks are found.
    again = cluster.cli("dags", "test", "consumer", "2024-01-01", "-q", check=False)
    states = cluster.states("consumer", "manual__2024-01-01T00:00:00+00:00")
    assert (states["group"], states["tasks"], again.returncode) == ("success", "success", 1)


def test_a_zombies_retry_callback_is_run_once_by_the_scheduler_and_logged_in_its_try(
    cluster: Cluster,
    tmp_path: Path,
):
    marker = tmp_path / "zombie_callbacks.txt"
    started = tmp_path / "started"
    write_dag(
        cluster,
        "zombie",
        f"""
        import time
        from datetime import datetime, timedelta, timezone
        from pathlib import Path
        from tradewind import DAG, PythonOperator

        def note(kind):
            def callback(context):
                print(f"{{kind}} callback for try {{context['ti'].try_number}}")
                with open({str(marker)!r}, "a") as f:
                    f.write(f"{{kind}} {{context['ti'].try_number}} {{context['exception']}}\\n")
            return callback

        def work(ti):
            if ti.try_number == 1:
                Path({str(started)!r}).touch()
                time.sleep(120)

        with DAG("zombie", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            PythonOperator(task_id="work", python_callable=work, retries=1, retry_delay=timedelta(0),
                           on_retry_callback=note("retry"), on_failure_callback=note("failure"))
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("doomed")
    cluster.wait_for_dag("zombie")
    run_id = cluster.trigger("zombie")
    wait_until(started.exists, 30, cluster.tail_logs)
    cluster.kill("doomed")  # the task's process dies without a word: no callback of its own
    cluster.start_worker("survivor")

    assert cluster.wait_for_run("zombie", run_id, timeout=90) == "success"
    wait_until(marker.exists, 30, cluster.tail_logs)
    time.sleep(1)
    lines = marker.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("retry 1 zombie: no heartbeat"), lines
    assert "retry callback for try 1" in task_log(cluster, "zombie", run_id, "work", 1)
