"""Hand-off benchmark: how fast tradewind moves from one task to the next on a real cluster.

Runs a scheduler and one worker (concurrency 8) as separate processes over the PostgreSQL at
127.0.0.1:5432 and the Redis at 127.0.0.1:6379 (a fresh database and Redis db of its own), and
times three workloads:

  bench_chain       20 no-op PythonOperator tasks in a line
  bench_fanout      1 task -> 200 parallel no-op PythonOperator tasks -> 1 task
  bench_bash_chain  10 BashOperator tasks running `true` in a line

For each it prints trigger-to-end seconds (run created -> last task ended), the median and p95
hand-off in ms (a task's start minus the end of the last of its upstream tasks), task instances
per second, and the CPU seconds one run cost the scheduler, the worker (with its tasks' processes)
and PostgreSQL. Each workload runs once to warm the worker, then --runs times; the figures
are the median over those runs.

    .venv/bin/python benchmarks/bench_handoff.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import redis
import sqlalchemy as sa

from tradewind.metastore import runs, task_instances
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.settings import Settings

PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
REDIS_DB = 14
TRADEWIND = shutil.which("tradewind") or str(Path(sys.executable).parent / "tradewind")
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


def measure(factory, dag_id: str, run_id: str) -> dict[str, float]:
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
        "seconds": seconds,
        "median_ms": statistics.median(handoffs),
        "p95_ms": percentile(handoffs, 0.95),
        "tis_per_s": len(tis) / seconds,
    }


def session_cpu_seconds(session_id: int) -> float:
    """CPU seconds (user + system) used so far by every live process of a session."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session_id:
            # utime, stime, and the waited-for children's cutime, cstime (the tasks' processes)
            total += sum(int(f) for f in fields[11:15])
    return total / ticks


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


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="measured runs per workload (after one warm-up)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder and database")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tradewind-bench-"))
    dags_folder = work / "dags"
    dags_folder.mkdir()
    for dag_id, source in DAGS.items():
        (dags_folder / f"{dag_id}.py").write_text(textwrap.dedent(source))
    database = f"tradewind_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    redis.Redis(db=REDIS_DB).flushdb()
    env = {
        **os.environ,
        "TRADEWIND_HOME": str(work),
        "TRADEWIND_DAGS_FOLDER": str(dags_folder),
        "TRADEWIND_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "TRADEWIND_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "TRADEWIND_DAGS_ARE_PAUSED_AT_CREATION": "false",
        "TRADEWIND_LOG_LEVEL": "WARNING",
        "TRADEWIND_PARALLELISM": "256",
    }
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("TRADEWIND_")})
    processes: list[subprocess.Popen[bytes]] = []
    engine = None
    try:
        subprocess.run([TRADEWIND, "db", "migrate"], env=env, check=True, capture_output=True)
        logs = open(work / "processes.log", "wb")  # noqa: SIM115
        for args in (["scheduler"], ["worker", "--concurrency", "8", "--hostname", "bench"]):
            processes.append(
                subprocess.Popen(
                    [TRADEWIND, *args], env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        engine = create_engine_from_settings(settings)
        factory = make_session_factory(engine)

        def dag_known(dag_id: str) -> bool:
            with engine.connect() as connection:
                return bool(
                    connection.execute(
                        sa.text("SELECT 1 FROM dag WHERE dag_id = :d AND is_active"), {"d": dag_id}
                    ).scalar()
                )

        def trigger(dag_id: str) -> str:
            result = subprocess.run(
                [TRADEWIND, "dags", "trigger", dag_id, "-o", "json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            return json.loads(result.stdout)["run_id"]

        def finished(dag_id: str, run_id: str) -> str | None:
            with session_scope(factory) as session:
                state = runs.get_run(session, dag_id, run_id).state
            return state if state in ("success", "failed") else None

        print(
            f"tradewind hand-off benchmark: 1 scheduler + 1 worker (concurrency 8), Postgres + Redis, "
            f"{os.cpu_count()} cores; median of {options.runs} runs after a warm-up\n"
        )
        header = (
            f"{'workload':18} {'trigger-to-end s':>17} {'median hand-off ms':>19} {'p95 hand-off ms':>16} "
            f"{'TI/s':>8}   {'CPU s: sched/worker/pg':>22}   Airflow 2.11 here"
        )
        print(header)
        print("-" * len(header))
        for dag_id in DAGS:
            wait(lambda d=dag_id: dag_known(d), 60, f"{dag_id} to be parsed")
            figures = []
            cpu_before: tuple[float, float, float] | None = None
            for attempt in range(options.runs + 1):
                if attempt == 1:
                    cpu_before = (
                        session_cpu_seconds(processes[0].pid),
                        session_cpu_seconds(processes[1].pid),
                        postgres_cpu_seconds(),
                    )
                run_id = trigger(dag_id)
                state = wait(lambda d=dag_id, r=run_id: finished(d, r), 300, f"{dag_id} run {run_id}")
                if state != "success":
                    raise SystemExit(f"{dag_id} run {run_id} ended {state}")
                if attempt > 0:
                    figures.append(measure(factory, dag_id, run_id))
            med = {k: statistics.median(f[k] for f in figures) for k in figures[0]}
            assert cpu_before is not None
            cpu = [
                (now - before) / options.runs
                for now, before in zip(
                    (
                        session_cpu_seconds(processes[0].pid),
                        session_cpu_seconds(processes[1].pid),
                        postgres_cpu_seconds(),
                    ),
                    cpu_before,
                    strict=True,
                )
            ]
            cpu_text = "/".join(f"{c:.2f}" for c in cpu)
            print(
                f"{dag_id:18} {med['seconds']:17.3f} {med['median_ms']:19.1f} {med['p95_ms']:16.1f} "
                f"{med['tis_per_s']:8.1f}   {cpu_text:>22}   {AIRFLOW_FIGURES[dag_id]}"
            )
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if engine is not None:
            engine.dispose()
        if not options.keep:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\nkept {work} and database {database}")
        admin.dispose()


if __name__ == "__main__":
    main()
