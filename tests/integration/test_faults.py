"""A cluster that heals itself, and no try that ever overlaps another: the faults a real cluster
meets, written into the tests — Redis shut down and started empty, a task's process and a whole
worker killed with SIGKILL, a running task whose command ignores SIGTERM cleared, a task that
leaves children behind, a worker cut off from the metastore.

Task commands append "<try> <time>" to a ledger every 0.1 s while they live; a later try's first
line after an earlier try's last line is the proof that no two tries ran side by side.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import Cluster, wait_until
from faults import (
    OwnRedis,
    TcpProxy,
    alive,
    assert_tries_never_overlapped,
    free_port,
    ledger_command,
    sigkill,
    task_process_pid,
    ticks_by_try,
)
from test_cluster import write_dag

from tradewind.metastore import logs
from tradewind.metastore.engine import session_scope
from tradewind.metastore.task_instances import TIKey

pytestmark = pytest.mark.integration

ZOMBIE_THRESHOLD = 6.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cluster(tmp_path: Path, fresh_pg_url: str, own_redis: OwnRedis, dags_folder: Path) -> Iterator[Cluster]:
    cluster = Cluster(
        tmp_path / "home",
        fresh_pg_url,
        own_redis.url,
        dags_folder,
        extra_env={"TRADEWIND_KILLED_TASK_CLEANUP_TIME": "3"},
    )
    cluster.cli("db", "migrate")
    yield cluster
    cluster.stop_all()


def ledger_dag(
    folder: Path,
    dag_id: str,
    ledger: Path,
    *,
    seconds: float,
    retries: int = 1,
    trap_term: bool = False,
    queue: str = "default",
) -> None:
    write_dag(
        folder,
        dag_id,
        f'''
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, BashOperator

        with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 default_args={{"retries": {retries}, "retry_delay": timedelta(seconds=0)}}):
            BashOperator(task_id="tick", queue={queue!r},
                         bash_command={ledger_command(ledger, seconds, trap_term=trap_term)!r})
    ''',
    )


def start_ticking(
    cluster: Cluster,
    dags_folder: Path,
    dag_id: str,
    ledger: Path,
    *,
    seconds: float,
    retries: int = 1,
    trap_term: bool = False,
) -> str:
    """Write a ledger DAG, start the scheduler and worker w1, trigger it; returns the run id once its
    first try has ticked a few times."""
    ledger_dag(dags_folder, dag_id, ledger, seconds=seconds, retries=retries, trap_term=trap_term)
    cluster.start_scheduler()
    cluster.start_worker("w1")
    cluster.wait_for_dag(dag_id)
    run_id = cluster.trigger(dag_id)
    wait_until(lambda: len(ticks_by_try(ledger).get(1, [])) >= 5, 30, cluster.tail_logs)
    return run_id


def try_log(cluster: Cluster, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    with session_scope(cluster.factory) as session:
        return logs.read_log(session, TIKey(dag_id, run_id, task_id), try_number)[0]


def worker_row(cluster: Cluster, hostname: str) -> dict:
    rows = json.loads(cluster.cli("workers", "list", "--all", "-o", "json").stdout)
    return next(row for row in rows if row["hostname"] == hostname)


# --- the broker goes away ---------------------------------------------------------------------------


def test_redis_shut_down_for_30_s_and_started_empty_heals_every_run_without_restarting_a_worker(
    cluster: Cluster, dags_folder: Path, own_redis: OwnRedis, tmp_path: Path
) -> None:
    record = tmp_path / "record.txt"
    write_dag(
        dags_folder,
        "fan_out",
        f"""
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, PythonOperator

        def step(ti, run_id, **_):
            import time
            with open({str(record)!r}, "a") as f:
                f.write(f"{{run_id}} {{ti.task_id}} {{ti.try_number}}\\n")
            time.sleep(2)

        with DAG("fan_out", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), max_active_runs=50,
                 default_args={{"retries": 2, "retry_delay": timedelta(seconds=0)}}):
            first = PythonOperator(task_id="first", python_callable=step)
            for i in range(5):
                first >> PythonOperator(task_id=f"branch_{{i}}", python_callable=step)
    """,
    )
    cluster.start_scheduler()
    worker = cluster.start_worker("w1", concurrency=4)
    cluster.wait_for_dag("fan_out")
    run_ids = [cluster.trigger("fan_out") for _ in range(8)]
    # Messages must be waiting in Redis when it dies: more branches are queued than the worker runs.
    wait_until(
        lambda: sum(s == "queued" for r in run_ids for s in cluster.states("fan_out", r).values()) >= 6,
        60,
        lambda: "no backlog of queued task instances built up\n" + cluster.tail_logs(),
    )

    own_redis.shutdown_nosave()
    wait_until(
        lambda: worker_row(cluster, "w1")["state"] == "unhealthy",
        20,
        lambda: f"w1 never reported the broker outage: {worker_row(cluster, 'w1')}",
    )
    assert worker_row(cluster, "w1")["problem"] == "cannot reach the broker"
    time.sleep(30)  # the outage itself: nothing to poll for
    own_redis.start()

    back = time.monotonic()
    for run_id in run_ids:
        assert cluster.wait_for_run("fan_out", run_id, timeout=120) == "success"
    healed_after = time.monotonic() - back
    assert worker.poll() is None, "the worker exited instead of reconnecting"
    assert cluster.processes["w1"] is worker
    lines = record.read_text().splitlines()
    assert len(lines) == len(set(lines)), "a try of a task instance ran twice"
    wait_until(
        lambda: worker_row(cluster, "w1")["state"] == "online",
        20,
        lambda: f"w1 never said it was healthy again: {worker_row(cluster, 'w1')}",
    )
    assert worker_row(cluster, "w1")["broker_reconnects"] >= 1
    print(f"every run succeeded {healed_after:.1f} s after Redis came back")


# --- processes of a try die with the try -------------------------------------------------------------


def test_the_task_process_killed_with_sigkill_leaves_nothing_running_beside_its_retry(
    cluster: Cluster, dags_folder: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    run_id = start_ticking(cluster, dags_folder, "oom_victim", ledger, seconds=40)

    sigkill(task_process_pid(ledger, 1))  # what the OOM killer does
    wait_until(
        lambda: 2 in ticks_by_try(ledger),
        60,
        lambda: f"no retry started; states {cluster.states('oom_victim', run_id)}\n{cluster.tail_logs()}",
    )
    ticks = assert_tries_never_overlapped(ledger)
    assert len(ticks[1]) < 300, "the first try's command ran to its end instead of dying with its task"
    first_log = try_log(cluster, "oom_victim", run_id, "tick", 1)
    assert "signal 9" in first_log, first_log
    assert re.search(r"the task left [1-9]\d* process\(es\) running; they were stopped with it", first_log)


def test_a_worker_killed_outright_leaves_no_command_running_beside_the_retry(
    cluster: Cluster, dags_folder: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    run_id = start_ticking(cluster, dags_folder, "worker_dies", ledger, seconds=40)
    command = task_process_pid(ledger, 1)

    killed_at = time.time()
    cluster.kill("w1")  # SIGKILL to every process of the worker's session (its fork server has its own)
    cluster.start_worker("w2")
    wait_until(
        lambda: 2 in ticks_by_try(ledger),
        60,
        lambda: f"no retry started; states {cluster.states('worker_dies', run_id)}\n{cluster.tail_logs()}",
    )
    ticks = assert_tries_never_overlapped(ledger)
    # The fork server outlives the worker and stops the command long before the zombie threshold.
    assert max(ticks[1]) < killed_at + ZOMBIE_THRESHOLD / 2
    assert not alive(command)
    assert cluster.task_rows("worker_dies", run_id)["tick"].hostname == "w2"


def test_clearing_a_running_task_whose_command_ignores_sigterm_reruns_it_only_after_the_command_is_gone(
    cluster: Cluster, dags_folder: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    run_id = start_ticking(cluster, dags_folder, "stubborn", ledger, seconds=40, retries=0, trap_term=True)

    cluster.cli("tasks", "clear", "stubborn", "-t", "^tick$", "--yes")
    wait_until(
        lambda: 2 in ticks_by_try(ledger),
        60,
        lambda: (
            f"the cleared task never ran again; states {cluster.states('stubborn', run_id)}\n" + cluster.tail_logs()
        ),
    )
    ticks = assert_tries_never_overlapped(ledger)
    assert len(ticks[1]) < 300
    first_log = try_log(cluster, "stubborn", run_id, "tick", 1)
    assert "changed from outside (cleared, marked, or its run timed out); stopped" in first_log
    assert "every process it started is gone; the task runs again" in first_log


def test_a_task_that_leaves_background_children_ends_when_its_own_process_ends(
    cluster: Cluster, dags_folder: Path, tmp_path: Path
) -> None:
    pids = tmp_path / "children"
    write_dag(
        dags_folder,
        "leaves_children",
        f"""
        import os, subprocess
        from datetime import datetime, timezone
        from tradewind import DAG, task

        with DAG("leaves_children", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            @task
            def start_and_return():
                plain = subprocess.Popen(["sleep", "120"])
                own_session = subprocess.Popen(["sleep", "121"], start_new_session=True)
                # A daemon: double fork, new session, stdout still the task's log.
                first = os.fork()
                if first == 0:
                    os.setsid()
                    if os.fork() == 0:
                        with open({str(pids)!r} + ".daemon", "w") as f:
                            f.write(str(os.getpid()))
                        import time
                        time.sleep(122)
                    os._exit(0)
                os.waitpid(first, 0)
                with open({str(pids)!r}, "w") as f:
                    f.write(f"{{plain.pid}} {{own_session.pid}}")
                return "started"

            start_and_return()
    """,
    )
    cluster.start_scheduler()
    cluster.start_worker("w1")
    cluster.wait_for_dag("leaves_children")
    run_id = cluster.trigger("leaves_children")
    started = time.monotonic()
    assert cluster.wait_for_run("leaves_children", run_id, timeout=60) == "success"
    assert time.monotonic() - started < 30, "the children held the try"
    daemon = Path(f"{pids}.daemon")
    wait_until(daemon.exists, 5)
    children = [int(p) for p in pids.read_text().split()] + [int(daemon.read_text())]
    assert not any(alive(pid) for pid in children)
    log = try_log(cluster, "leaves_children", run_id, "start_and_return", 1)
    assert "Marking task as SUCCESS" in log and "left 3 process(es) running; they were stopped with it" in log


# --- a worker cut off from the metastore fences itself ------------------------------------------------


def test_a_worker_cut_off_from_the_metastore_kills_its_own_try_before_the_retry_starts_elsewhere(
    tmp_path: Path, fresh_pg_url: str, own_redis: OwnRedis, dags_folder: Path
) -> None:
    ledger = tmp_path / "ledger"
    ledger_dag(dags_folder, "partitioned", ledger, seconds=40, queue="cut")
    write_dag(
        dags_folder,
        "after_heal",
        """
        from datetime import datetime, timezone
        from tradewind import DAG, BashOperator

        with DAG("after_heal", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            BashOperator(task_id="echo", queue="cut", bash_command="echo healed")
    """,
    )
    proxy = TcpProxy(5432)
    cluster = Cluster(tmp_path / "home", fresh_pg_url, own_redis.url, dags_folder)
    cut_off = Cluster(tmp_path / "home", proxy.url_for(fresh_pg_url, 5432), own_redis.url, dags_folder)
    try:
        cluster.cli("db", "migrate")
        cluster.start_scheduler()
        cut_off.start_worker("w1", queues="cut")
        cluster.wait_for_dag("partitioned")
        run_id = cluster.trigger("partitioned")
        wait_until(lambda: len(ticks_by_try(ledger).get(1, [])) >= 5, 30, cluster.tail_logs)

        proxy.cut()  # w1 can no longer reach Postgres; its Redis link and its task run on
        cut_at = time.time()
        cluster.start_worker("w2", queues="cut")
        wait_until(
            lambda: 2 in ticks_by_try(ledger),
            60,
            lambda: f"no retry started; states {cluster.states('partitioned', run_id)}\n" + cluster.tail_logs(),
        )
        ticks = assert_tries_never_overlapped(ledger)
        # w1 stopped its own try after half the zombie threshold; the scheduler only then retried it.
        assert max(ticks[1]) < cut_at + ZOMBIE_THRESHOLD
        assert "the worker killed the try so that a retry elsewhere cannot run beside it" in cluster.log_of("w1")

        proxy.heal()
        assert cluster.wait_for_run("partitioned", run_id, timeout=90) == "success"
        assert cluster.task_rows("partitioned", run_id)["tick"].hostname == "w2"
        cluster.kill("w2", signal.SIGTERM)  # only the healed worker consumes the queue now
        healed_run = cluster.trigger("after_heal")
        assert cluster.wait_for_run("after_heal", healed_run, timeout=60) == "success"
        assert cluster.task_rows("after_heal", healed_run)["echo"].hostname == "w1"
    finally:
        cut_off.stop_all()
        cluster.stop_all()
        proxy.close()


# --- every role heals ---------------------------------------------------------------------------------


def health_of(port: int) -> tuple[int, dict]:
    """The webserver's /health as (HTTP status, document); (0, {}) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return 0, {}


def test_every_role_goes_on_by_itself_after_postgres_and_then_redis_were_gone(
    tmp_path: Path, fresh_pg_url: str, own_redis: OwnRedis, dags_folder: Path
) -> None:
    write_dag(
        dags_folder,
        "steady",
        """
        from datetime import datetime, timedelta, timezone
        from tradewind import DAG, BashOperator

        with DAG("steady", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 default_args={"retries": 3, "retry_delay": timedelta(seconds=0)}):
            BashOperator(task_id="one", bash_command="sleep 1") >> BashOperator(task_id="two", bash_command="true")
    """,
    )
    postgres = TcpProxy(5432)
    port = free_port()
    cluster = Cluster(
        tmp_path / "home",
        postgres.url_for(fresh_pg_url, 5432),
        own_redis.url,
        dags_folder,
        extra_env={
            "TRADEWIND_SECRET_KEY": "fault-test-secret-key-0123456789abcdef",
            "TRADEWIND_WEBSERVER_WORKERS": "1",
        },
    )
    try:
        cluster.cli("db", "migrate")
        cluster.start_scheduler()
        cluster.start_worker("w1")
        cluster.start("web", "webserver", "--port", str(port))
        cluster.wait_for_dag("steady")
        wait_until(
            lambda: health_of(port)[0] == 200, 60, lambda: "the webserver never answered\n" + cluster.tail_logs()
        )
        before = cluster.trigger("steady")

        postgres.refuse()  # PostgreSQL is gone: every connection reset, every new one refused
        wait_until(lambda: health_of(port)[0] == 503, 30, lambda: f"/health said {health_of(port)} without Postgres")
        time.sleep(20)  # the outage itself
        postgres.heal()

        assert cluster.wait_for_run("steady", before, timeout=120) == "success"
        wait_until(
            lambda: health_of(port)[1].get("scheduler", {}).get("status") == "healthy",
            30,
            lambda: f"the scheduler did not heartbeat again: {health_of(port)}\n" + cluster.tail_logs(),
        )
        after_postgres = cluster.trigger("steady")
        assert cluster.wait_for_run("steady", after_postgres, timeout=60) == "success"

        own_redis.shutdown_nosave()
        during = cluster.trigger("steady")  # the scheduler cannot send it yet; it waits queued
        assert health_of(port)[0] == 200, "the webserver needs no Redis to answer"
        time.sleep(20)
        own_redis.start()
        assert cluster.wait_for_run("steady", during, timeout=120) == "success"
        after_redis = cluster.trigger("steady")
        assert cluster.wait_for_run("steady", after_redis, timeout=60) == "success"
        for name in ("scheduler", "w1", "web"):
            assert cluster.processes[name].poll() is None, f"{name} exited\n{cluster.log_of(name)[-3000:]}"
        status, document = health_of(port)
        assert status == 200 and document["workers"][0]["status"] == "healthy"
    finally:
        cluster.stop_all()
        postgres.close()
