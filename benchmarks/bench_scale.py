"""Scale-out and idle-memory benchmark on one machine's PostgreSQL and Redis.

1. **Scale out**: a DAG of 1 → ``--tasks`` × ``sleep 1`` → 1 (BashOperators), run once each with 1,
   2 and 4 workers of concurrency 8 beside one scheduler (a fresh cluster each time: its own
   PostgreSQL database and Redis db). As an Airflow user sizing a cluster would, the DAG lifts
   ``max_active_tasks`` (16 by default) and ``parallelism`` is twice the slots, so neither limit
   caps the run below what the workers can take. Prints the run's wall time (trigger to end, the
   CLI's trigger included) and the efficiency against the ideal, ``tasks × 1 s / slots``, both for
   the whole run and for the sleeping part alone (first sleep start to last sleep end), and the
   median time a sleep task took from its claim to its end (1 s of it is the sleep). Then where the
   time beyond the ideal went: the CLI until the run existed, the first task until the first sleep
   started, how long a slot's first try took from its claim to its task's first log line (against
   the later tries'), and how far apart the slots ended their last tasks (each slot's tries are
   told apart by their worker and their times).
2. **Wide fan-out**: 1 → ``--fanout-tasks`` (1,000) no-op PythonOperators → 1 on
   ``--fanout-workers`` (4) workers of concurrency 8: trigger to end and task instances per second.
3. **Idle memory**: with the DAG parsed and nothing running, the proportional set size (PSS, from
   ``/proc/<pid>/smaps_rollup``: pages shared between forked processes are counted once across
   them) of the scheduler, of a worker of concurrency 8 with all its processes, and of the
   webserver (gunicorn, its master and its default one worker of 8 threads); and the worker's
   again once the first scale-out run is over (with the next try's processes made ready).

    .venv/bin/python benchmarks/bench_scale.py [--tasks 192] [--workers 1 2 4] [--fanout-tasks 1000]
                                               [--fanout-workers 4]

Targets (issue "Speed"): efficiency ≥ 90 % / 90 % / 80 % for 1 / 2 / 4 workers; idle PSS of a
worker of concurrency 8 < 100 MiB, of the scheduler and webserver together < 150 MiB.
"""

from __future__ import annotations

import argparse
import heapq
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime

import sqlalchemy as sa
from bench_cluster import bench_cluster, pss_kib, wait

REDIS_DB = 14
CONCURRENCY = 8

DAG = """
    from datetime import datetime

    from airflow import DAG
    from airflow.operators.bash import BashOperator

    with DAG("scale_out", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
             max_active_tasks=256) as dag:
        start = BashOperator(task_id="start", bash_command="true")
        end = BashOperator(task_id="end", bash_command="true")
        for index in range({tasks}):
            start >> BashOperator(task_id=f"sleep_{{index}}", bash_command="sleep 1") >> end
"""


FANOUT_DAG = """
    from datetime import datetime

    from airflow import DAG
    from airflow.operators.python import PythonOperator

    def noop():
        return None

    with DAG("fan_out", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
             max_active_tasks=2048) as dag:
        first = PythonOperator(task_id="first", python_callable=noop)
        last = PythonOperator(task_id="last", python_callable=noop)
        for index in range({tasks}):
            first >> PythonOperator(task_id=f"noop_{{index}}", python_callable=noop) >> last
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scheduler_and_workers(workers: int) -> list[list[str]]:
    """The roles of a run: one scheduler and ``workers`` workers of concurrency 8, with
    ``parallelism`` set to twice their slots so it never caps the run."""
    os.environ["TRADEWIND_PARALLELISM"] = str(2 * workers * CONCURRENCY)
    roles: list[list[str]] = [["scheduler"]]
    roles += [["worker", "--hostname", f"w{n}", "--concurrency", str(CONCURRENCY)] for n in range(workers)]
    return roles


def scale_run(tasks: int, workers: int, *, measure_memory: bool) -> None:
    roles = scheduler_and_workers(workers)
    port = free_port()
    if measure_memory:
        roles.append(["webserver", "--host", "127.0.0.1", "--port", str(port)])
    with bench_cluster({"scale_out": DAG.format(tasks=tasks)}, roles, redis_db=REDIS_DB) as cluster:
        if measure_memory:
            assert cluster.env.get("TRADEWIND_SECRET_KEY"), "the webserver needs TRADEWIND_SECRET_KEY"
        wait(lambda: cluster.dag_known("scale_out"), 120, "the DAG to be parsed")
        wait(lambda: cluster.roles_up("scheduler"), 60, "the scheduler and a worker")
        wait(lambda: _workers_registered(cluster.engine) >= workers, 60, "every worker")
        if measure_memory:
            time.sleep(5)  # idle: the DAG parsed, nothing queued, every role past its start-up
            scheduler, worker = cluster.processes[0], cluster.processes[1]
            webserver = cluster.processes[-1]
            wait(lambda: _answers(port), 60, "the webserver")
            print("idle memory (PSS)                     MiB   target")
            scheduler_mib = pss_kib(scheduler.pid) / 1024
            worker_mib = pss_kib(worker.pid) / 1024
            web_mib = pss_kib(webserver.pid) / 1024
            print(f"  worker, concurrency {CONCURRENCY:<2}               {worker_mib:6.0f}   < 100")
            print(f"  scheduler                           {scheduler_mib:6.0f}")
            print(f"  webserver (default: 1 worker x 8)   {web_mib:6.0f}")
            print(f"  scheduler + webserver               {scheduler_mib + web_mib:6.0f}   < 150")
        began, began_epoch = time.monotonic(), time.time()
        run_id = cluster.trigger("scale_out")
        state = wait(lambda: cluster.finished("scale_out", run_id), 600, "the run to end")
        wall = time.monotonic() - began
        first, last, median_task = _sleep_window(cluster.engine, run_id)
        slots = workers * CONCURRENCY
        ideal = tasks * 1.0 / slots
        print(
            f"{workers} worker(s) x {CONCURRENCY}: {state}; trigger to end {wall:6.1f} s, ideal {ideal:5.1f} s, "
            f"efficiency {100 * ideal / wall:3.0f} %; sleeping part {last - first:6.1f} s, "
            f"efficiency {100 * ideal / (last - first):3.0f} %; a sleep task claim to end {1000 * median_task:4.0f} ms"
        )
        print("  " + _where_it_went(cluster.engine, run_id, began_epoch, workers * CONCURRENCY))
        if measure_memory:
            # A worker that has run tries idles with the next try's two processes made ready.
            time.sleep(5)
            after_mib = pss_kib(cluster.processes[1].pid) / 1024
            print(f"  idle again after the run: worker, concurrency {CONCURRENCY}, {after_mib:.0f} MiB PSS (< 100)")


def fanout_run(tasks: int, workers: int) -> None:
    with bench_cluster(
        {"fan_out": FANOUT_DAG.format(tasks=tasks)}, scheduler_and_workers(workers), redis_db=REDIS_DB
    ) as cluster:
        wait(lambda: cluster.dag_known("fan_out"), 120, "the DAG to be parsed")
        wait(lambda: _workers_registered(cluster.engine) >= workers, 60, "every worker")
        began = time.monotonic()
        run_id = cluster.trigger("fan_out")
        state = wait(lambda: cluster.finished("fan_out", run_id), 900, "the run to end")
        wall = time.monotonic() - began
        print(
            f"1 -> {tasks} no-op tasks -> 1 on {workers} worker(s) x {CONCURRENCY}: {state}; trigger to end "
            f"{wall:6.1f} s, {(tasks + 2) / wall:5.0f} TI/s"
        )


def _workers_registered(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM worker")).scalar() or 0)


def _answers(port: int) -> bool:
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/health"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "200"


def _sleep_window(engine: sa.Engine, run_id: str) -> tuple[float, float, float]:
    """First sleep start, last sleep end (epoch seconds), and the median sleep task's duration."""
    with engine.connect() as connection:
        low, high, median = connection.execute(
            sa.text(
                "SELECT min(start_date), max(end_date), "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM end_date - start_date)) "
                "FROM task_instance WHERE dag_id = 'scale_out' AND run_id = :r AND task_id LIKE 'sleep_%'"
            ),
            {"r": run_id},
        ).one()
    return low.timestamp(), high.timestamp(), float(median)


def _where_it_went(engine: sa.Engine, run_id: str, began: float, slots: int) -> str:
    """Where the run's time beyond the ideal went (``began``: when the CLI was called, epoch s)."""
    with engine.connect() as connection:
        queued_at = connection.execute(
            sa.text("SELECT queued_at FROM dag_run WHERE dag_id = 'scale_out' AND run_id = :r"), {"r": run_id}
        ).scalar_one()
        tries = connection.execute(
            sa.text(
                "SELECT t.hostname, t.start_date, t.end_date, (SELECT l.content FROM task_log l WHERE l.dag_id = "
                "t.dag_id AND l.run_id = t.run_id AND l.task_id = t.task_id AND l.map_index = t.map_index "
                "AND l.try_number = t.try_number ORDER BY l.seq LIMIT 1) FROM task_instance t "
                "WHERE t.dag_id = 'scale_out' AND t.run_id = :r AND t.task_id LIKE 'sleep_%' ORDER BY t.start_date"
            ),
            {"r": run_id},
        ).all()
    starts = [(row.start_date.timestamp(), _first_log_line_at(row.content)) for row in tries]
    to_log = [logged - started for started, logged in starts if logged is not None]
    first_wave, later = to_log[:slots], to_log[slots:]
    slot_ends = []
    for hostname in {row.hostname for row in tries}:
        ends: list[float] = []  # a heap of this worker's slots, by when each is free again
        for row in (r for r in tries if r.hostname == hostname):
            if len(ends) == CONCURRENCY:
                heapq.heappop(ends)
            heapq.heappush(ends, row.end_date.timestamp())
        slot_ends.extend(ends)
    return (
        f"where it went: the CLI until the run existed {queued_at.timestamp() - began:4.2f} s; from there to the "
        f"first sleep {starts[0][0] - queued_at.timestamp():4.2f} s; a slot's first try, claim to first log line, "
        f"median {1000 * statistics.median(first_wave or [0]):3.0f} ms (later tries "
        f"{1000 * statistics.median(later or [0]):3.0f} ms); "
        f"the slots ended {max(slot_ends) - min(slot_ends):4.2f} s apart"
    )


def _first_log_line_at(content: str | None) -> float | None:
    """When a try's first log line was written (the task process logs in local time)."""
    found = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]", content or "")
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + int(found.group(2)) / 1000


def main() -> None:
    # The webserver refuses to start without a secret key; this cluster lives only for the benchmark.
    os.environ.setdefault("TRADEWIND_SECRET_KEY", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=192)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--fanout-tasks", type=int, default=1000, help="0 skips the wide fan-out")
    parser.add_argument("--fanout-workers", type=int, default=4)
    args = parser.parse_args()
    for index, workers in enumerate(args.workers):
        scale_run(args.tasks, workers, measure_memory=index == 0)
    if args.fanout_tasks:
        fanout_run(args.fanout_tasks, args.fanout_workers)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
