"""Hand-off benchmark: how fast tradewind moves from one task to the next on a real cluster.

Runs a scheduler and one worker (concurrency 8) as separate processes over the PostgreSQL at
127.0.0.1:5432 and the Redis at 127.0.0.1:6379 (a fresh database and Redis db of its own), and
times three workloads:

  bench_chain       20 no-op PythonOperator tasks in a line
  bench_fanout      1 task -> 200 parallel no-op PythonOperator tasks -> 1 task
  bench_bash_chain  10 BashOperator tasks running `true` in a line

For each it prints two trigger-to-end figures: from the ``tradewind dags trigger`` call to the end
of the last task (the CLI's own start-up included, as the speed issue and Airflow's figures count
it), and from the run's creation to that end (the cluster alone); the median and p95
hand-off in ms (a task's start minus the end of the last of its upstream tasks), task instances
per second, and the CPU seconds one run cost the scheduler, the worker (with its tasks' processes)
and PostgreSQL. Each workload runs once to warm the worker, then --runs times; the figures
are the median over those runs.

    .venv/bin/python benchmarks/bench_handoff.py [--runs 3] [--only bench_chain ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from bench_cluster import bench_cluster, cpu_seconds, wait

from tradewind.metastore import runs, task_instances
from tradewind.metastore.engine import session_scope

REDIS_DB = 14
AIRFLOW_FIGURES = {
    "bench_chain": "about 22 s (about 1 s per hop)",
    "bench_fanout": "80-90 s",
    "bench_bash_chain": "13 s",
}

DAGS = {
    "bench_chain": """
        from datetime import datetime, timezone
        from tradewind import DAG, PythonOperator, chain

        def noop():
            return None

        with DAG("bench_chain", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 max_active_runs=1):
            chain(*[PythonOperator(task_id=f"t{i:02d}", python_callable=noop) for i in range(20)])
    """,
    "bench_fanout": """
        from datetime import datetime, timezone
        from tradewind import DAG, PythonOperator

        def noop():
            return None

        with DAG("bench_fanout", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 max_active_runs=1, max_active_tasks=256):
            first = PythonOperator(task_id="first", python_callable=noop)
            last = PythonOperator(task_id="last", python_callable=noop)
            for i in range(200):
                first >> PythonOperator(task_id=f"middle_{i:03d}", python_callable=noop) >> last
    """,
    "bench_bash_chain": """
        from datetime import datetime, timezone
        from tradewind import DAG, BashOperator, chain

        with DAG("bench_bash_chain", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
                 max_active_runs=1):
            chain(*[BashOperator(task_id=f"t{i:02d}", bash_command="true") for i in range(10)])
    """,
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure(factory, dag_id: str, run_id: str, called: datetime) -> dict[str, float]:
    """One run's figures; ``called``: when the trigger command was started."""
    with session_scope(factory) as session:
        run = runs.get_run(session, dag_id, run_id)
        tis = {t.task_id: t for t in task_instances.get_tis(session, dag_id, run_id)}
        serialized = json.loads(
            json.dumps(session.execute(sa.text("SELECT serialized FROM dag WHERE dag_id = :d"), {"d": dag_id}).scalar())
        )
    upstream = {
        t["task_id"]: t["upstream_task_ids"]
        for t in (serialized if isinstance(serialized, dict) else json.loads(serialized))["tasks"]
    }
    handoffs = [
        (ti.start_date - max(tis[u].end_date for u in upstream[ti.task_id])).total_seconds() * 1000
        for ti in tis.values()
        if upstream[ti.task_id]
    ]
    created = run.queued_at or run.start_date
    ended = max(ti.end_date for ti in tis.values())
    seconds = (ended - created).total_seconds()
    return {
        "from_cli": (ended - called).total_seconds(),
        "seconds": seconds,
        "median_ms": statistics.median(handoffs),
        "p95_ms": percentile(handoffs, 0.95),
        "tis_per_s": len(tis) / seconds,
    }


def postgres_cpu_seconds() -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"postgres" not in (entry / "cmdline").read_bytes()[:200]:
                continue
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(f) for f in fields[11:13])
    return total / ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="measured runs per workload (after one warm-up)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder and database")
    parser.add_argument("--only", choices=sorted(DAGS), action="append", help="run this workload only (repeatable)")
    options = parser.parse_args()
    workloads = {dag_id: DAGS[dag_id] for dag_id in options.only or DAGS}

    roles = [["scheduler"], ["worker", "--concurrency", "8", "--hostname", "bench"]]
    with bench_cluster(workloads, roles, redis_db=REDIS_DB, keep=options.keep) as cluster:
        processes, factory = cluster.processes, cluster.factory
        print(
            f"tradewind hand-off benchmark: 1 scheduler + 1 worker (concurrency 8), Postgres + Redis, "
            f"{os.cpu_count()} cores; median of {options.runs} runs after a warm-up\n"
        )
        header = (
            f"{'workload':18} {'CLI call to end s':>17} {'run created to end s':>20} "
            f"{'median hand-off ms':>19} {'p95 hand-off ms':>16} "
            f"{'TI/s':>8}   {'CPU s: sched/worker/pg':>22}   Airflow 2.11 here"
        )
        print(header)
        print("-" * len(header))
        for dag_id in workloads:
            wait(lambda d=dag_id: cluster.dag_known(d), 60, f"{dag_id} to be parsed")
            figures = []
            cpu_before: tuple[float, float, float] | None = None
            for attempt in range(options.runs + 1):
                if attempt == 1:
                    cpu_before = (
                        cpu_seconds(processes[0].pid),
                        cpu_seconds(processes[1].pid),
                        postgres_cpu_seconds(),
                    )
                called = datetime.now(UTC)
                run_id = cluster.trigger(dag_id)
                state = wait(lambda d=dag_id, r=run_id: cluster.finished(d, r), 300, f"{dag_id} run {run_id}")
                if state != "success":
                    raise SystemExit(f"{dag_id} run {run_id} ended {state}")
                if attempt > 0:
                    figures.append(measure(factory, dag_id, run_id, called))
            med = {k: statistics.median(f[k] for f in figures) for k in figures[0]}
            assert cpu_before is not None
            cpu = [
                (now - before) / options.runs
                for now, before in zip(
                    (
                        cpu_seconds(processes[0].pid),
                        cpu_seconds(processes[1].pid),
                        postgres_cpu_seconds(),
                    ),
                    cpu_before,
                    strict=True,
                )
            ]
            cpu_text = "/".join(f"{c:.2f}" for c in cpu)
            print(
                f"{dag_id:18} {med['from_cli']:17.3f} {med['seconds']:20.3f} "
                f"{med['median_ms']:19.1f} {med['p95_ms']:16.1f} "
                f"{med['tis_per_s']:8.1f}   {cpu_text:>22}   {AIRFLOW_FIGURES[dag_id]}"
            )


if __name__ == "__main__":
    main()
