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
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_cluster import bench_cluster, wait
from bench_handoff import percentile

from tradewind.metastore import xcoms
from tradewind.metastore.engine import session_scope
from tradewind.sdk.triggers.base import serialize_checked
from tradewind.sdk.triggers.temporal import DateTimeTrigger
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


def on_a_cluster(tasks: int, *, keep: bool = False) -> None:
    roles = [["scheduler"], ["worker", "--concurrency", "8", "--hostname", "bench"], ["triggerer"]]
    with bench_cluster(
        {"bench_deferred": DAG.replace("TASKS", str(tasks))}, roles, redis_db=REDIS_DB, keep=keep
    ) as cluster:
        wait(lambda: cluster.dag_known("bench_deferred"), 60, "the DAG to be parsed")
        wait(lambda: cluster.roles_up("triggerer"), 60, "the worker and the triggerer to start")
        at = datetime.now(UTC) + timedelta(seconds=max(10.0, tasks * 0.15))
        run_id = cluster.trigger("bench_deferred", conf={"at": at.isoformat()})
        try:
            state = wait(lambda: cluster.finished("bench_deferred", run_id), 120 + tasks, "the run to end")
        except SystemExit:
            print((cluster.work / "processes.log").read_text()[-4000:])
            raise
        if state != "success":
            raise SystemExit(f"the run ended {state}")
        with session_scope(cluster.factory) as session:
            found = xcoms.get_xcoms_for_tasks(
                session, "bench_deferred", run_id, [f"t{i:03d}" for i in range(tasks)], "return_value"
            )
        late = [seconds * 1000 for seconds in found.values()]
        print(
            f"{tasks:>7} deferred tasks on a cluster: resumed method running after its trigger fired by p50 "
            f"{statistics.median(late):.0f} ms, p95 {percentile(late, 0.95):.0f} ms, max {max(late):.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triggers", type=int, nargs="+", default=[1000, 5000], help="triggers on one loop")
    parser.add_argument("--tasks", type=int, default=50, help="deferred tasks on the cluster (0: skip it)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's working folder and database")
    options = parser.parse_args()
    print(f"tradewind triggerer benchmark, {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    for count in options.triggers:
        one_loop(count)
    if options.tasks:
        on_a_cluster(options.tasks, keep=options.keep)


if __name__ == "__main__":
    main()
