"""Triggerer benchmark: how many deferred tasks one triggerer holds, and how soon a task resumes
after its trigger fires.

1. One triggerer's loop, in this process (no metastore): ``--triggers`` DateTimeTriggers (1,000
   and 5,000 by default) started on one ``TriggerRunner``; it prints the memory they take (the
   process's resident set before and after) and, with their moments spread over the next three
   seconds, how late each fired (p50/p95/max, milliseconds after its moment).
2. A real cluster over the PostgreSQL at 127.0.0.1:5432 and the Redis at 127.0.0.1:6379 (a fresh
   database and Redis db of their own): one scheduler, one worker (concurrency 8) and one
   ``tradewind triggerer``. ``--tasks`` tasks each defer on a DateTimeTrigger, their moments 0.2 s
   apart so they do not queue behind each other; it prints how long after its trigger fired each
   task's resumed method was running on the worker (p50/p95/max): the trigger's firing, the resume
   in the metastore, the scheduler's queueing, the Redis hand-off, the worker's claim and fork.

    .venv/bin/python benchmarks/bench_triggerer.py [--triggers 1000 5000] [--tasks 50]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import sqlalchemy as sa
from bench_handoff import PG_ADMIN, TRADEWIND, percentile, wait

from tradewind.metastore import runs, xcoms
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.sdk.triggers.base import serialize_checked
from tradewind.sdk.triggers.temporal import DateTimeTrigger
from tradewind.settings import Settings
from tradewind.triggerer.runner import Fired, TriggerRunner, TriggerSpec

REDIS_DB = 13

DAG = """
    from datetime import datetime, timedelta, timezone
    from tradewind import DAG
    from tradewind.sdk.baseoperator import BaseOperator
    from tradewind.sdk.triggers.temporal import DateTimeTrigger


    class Defers(BaseOperator):
        def __init__(self, *, index, **kwargs):
            super().__init__(**kwargs)
            self.index = index

        def execute(self, context):
            at = datetime.fromisoformat(context["dag_run"].conf["at"]) + timedelta(seconds=0.2 * self.index)
            # The trigger fires at its moment, or at once when the task deferred after it.
            fires = max(at, datetime.now(timezone.utc))
            self.defer(trigger=DateTimeTrigger(at), method_name="resume", kwargs={"fires": fires.isoformat()})

        def resume(self, context, event=None, fires=None):
            late = datetime.now(timezone.utc) - datetime.fromisoformat(fires)
            return late.total_seconds()


    with DAG("bench_deferred", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
             max_active_tasks=512):
        for i in range(TASKS):
            Defers(task_id=f"t{i:03d}", index=i)
"""


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_loop(count: int) -> None:
    """``count`` triggers on one runner: their memory, then how late they fire."""
    runner = TriggerRunner()
    runner.start()
    try:
        far = datetime.now(UTC) + timedelta(hours=1)
        before = rss_mib()
        specs = [TriggerSpec(i, *serialize_checked(DateTimeTrigger(far))) for i in range(count)]
        started = time.monotonic()
        runner.update(specs)
        wait(lambda: runner.running == count, 60, f"{count} triggers to start")
        start_s = time.monotonic() - started
        time.sleep(0.5)
        held = rss_mib() - before
        # Now the same number, due over the next three seconds.
        base = datetime.now(UTC) + timedelta(seconds=1)
        moments = {count + i: base + timedelta(seconds=3 * i / count) for i in range(count)}
        runner.update(TriggerSpec(i, *serialize_checked(DateTimeTrigger(m))) for i, m in moments.items())
        late: list[float] = []
        deadline = time.monotonic() + 30
        while len(late) < count and time.monotonic() < deadline:
            for outcome in runner.drain():
                if isinstance(outcome, Fired):
                    late.append((datetime.now(UTC) - moments[outcome.trigger_id]).total_seconds() * 1000)
            time.sleep(0.001)
        print(
            f"{count:>7} triggers on one loop: started in {start_s:.2f} s, {held:6.1f} MiB "
            f"({held * 1024 / count:.1f} KiB each); fired late by p50 {statistics.median(late):.1f} ms, "
            f"p95 {percentile(late, 0.95):.1f} ms, max {max(late):.1f} ms ({len(late)} fired)"
        )
    finally:
        runner.stop()


def on_a_cluster(tasks: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="tradewind-bench-triggerer-"))
    dags_folder = work / "dags"
    dags_folder.mkdir()
    (dags_folder / "bench_deferred.py").write_text(textwrap.dedent(DAG).replace("TASKS", str(tasks)))
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
        "TRADEWIND_LOG_LEVEL": os.environ.get("TRADEWIND_LOG_LEVEL", "WARNING"),
        "TRADEWIND_PARALLELISM": "256",
    }
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("TRADEWIND_")})
    processes: list[subprocess.Popen[bytes]] = []
    engine = None
    try:
        subprocess.run([TRADEWIND, "db", "migrate"], env=env, check=True, capture_output=True)
        logs = open(work / "processes.log", "wb")  # noqa: SIM115
        for args in (["scheduler"], ["worker", "--concurrency", "8", "--hostname", "bench"], ["triggerer"]):
            processes.append(
                subprocess.Popen(
                    [TRADEWIND, *args], env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        engine = create_engine_from_settings(settings)
        factory = make_session_factory(engine)

        def dag_known() -> bool:
            with engine.connect() as connection:
                return bool(connection.execute(sa.text("SELECT 1 FROM dag WHERE dag_id = 'bench_deferred'")).scalar())

        wait(dag_known, 60, "the DAG to be parsed")
        at = datetime.now(UTC) + timedelta(seconds=max(10.0, tasks * 0.15))
        result = subprocess.run(
            [
                TRADEWIND,
                "dags",
                "trigger",
                "bench_deferred",
                "-o",
                "json",
                "--conf",
                json.dumps({"at": at.isoformat()}),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        run_id = json.loads(result.stdout)["run_id"]

        def finished() -> str | None:
            with session_scope(factory) as session:
                state = runs.get_run(session, "bench_deferred", run_id).state
            return state if state in ("success", "failed") else None

        try:
            state = wait(finished, 120 + tasks, "the run to end")
        except SystemExit:
            print((work / "processes.log").read_text()[-4000:])
            raise
        if state != "success":
            raise SystemExit(f"the run ended {state}; see {work / 'processes.log'}")
        with session_scope(factory) as session:
            found = xcoms.get_xcoms_for_tasks(
                session, "bench_deferred", run_id, [f"t{i:03d}" for i in range(tasks)], "return_value"
            )
            late = [seconds * 1000 for seconds in found.values()]
        print(
            f"{tasks:>7} deferred tasks on a cluster: resumed method running after its trigger fired by p50 "
            f"{statistics.median(late):.0f} ms, p95 {percentile(late, 0.95):.0f} ms, max {max(late):.0f} ms"
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
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triggers", type=int, nargs="+", default=[1000, 5000], help="triggers on one loop")
    parser.add_argument("--tasks", type=int, default=50, help="deferred tasks on the cluster (0: skip it)")
    options = parser.parse_args()
    print(f"tradewind triggerer benchmark, {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    for count in options.triggers:
        one_loop(count)
    if options.tasks:
        on_a_cluster(options.tasks)


if __name__ == "__main__":
    main()
