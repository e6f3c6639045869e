"""How long the scheduler's dag processor takes to bring a big new DAG folder into the metastore,
and what the scheduler costs once it has.

Generates ``--files`` DAG files of 10 tasks each (those of ``bench_dag_scan.py``) in a temporary
folder, makes a fresh PostgreSQL database (migrated; dropped at the end) and starts one real
``tradewind scheduler`` process on them. Prints the seconds from the scheduler's start until every
DAG is active in the metastore, and until the scheduler has looked at each new DAG's schedule
(no DAG is due for run creation any more); then, with nothing left to do, the scheduler's CPU use
(cores, over ``--idle-seconds``, from ``/proc/<pid>/stat``: it and its children) and its RSS and
PSS (it and every process under it).

    .venv/bin/python benchmarks/bench_dag_folder.py [--files 1000] [--idle-seconds 60]

Target (issue "Speed"): 1,000 files in under 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import sqlalchemy as sa
from bench_cluster import bench_cluster, cpu_seconds, pss_kib, rss_kib, wait
from bench_dag_scan import DAG_FILE

REDIS_DB = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--redis-db", type=int, default=REDIS_DB)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args = parser.parse_args()

    dags = {f"generated_{n:04d}": DAG_FILE.format(n=n) for n in range(args.files)}
    with bench_cluster(dags, [["scheduler"]], redis_db=args.redis_db) as cluster:
        wait(lambda: cluster.active_dags() >= args.files, args.timeout, f"all {args.files} DAGs in the metastore")
        elapsed = time.monotonic() - cluster.started
        print(f"{args.files} DAG files (10 tasks each) in the metastore after {elapsed:6.2f} s (target < 10 s)")
        wait(lambda: _due_dags(cluster.engine) == 0, args.timeout, "every new DAG's schedule to be looked at")
        settled = time.monotonic() - cluster.started
        print(f"every DAG's schedule looked at after {settled:6.2f} s")
        scheduler = cluster.processes[0].pid
        before, began = cpu_seconds(scheduler), time.monotonic()
        time.sleep(args.idle_seconds)
        cores = (cpu_seconds(scheduler) - before) / (time.monotonic() - began)
        print(f"scheduler idle CPU over {args.idle_seconds:g} s: {cores:.3f} cores")
        print(f"scheduler memory: RSS {rss_kib(scheduler) / 1024:6.1f} MiB, PSS {pss_kib(scheduler) / 1024:6.1f} MiB")


def _due_dags(engine: sa.Engine) -> int:
    """DAGs the scheduler's run creation has still to look at."""
    with engine.connect() as connection:
        query = "SELECT count(*) FROM dag WHERE is_active AND NOT is_paused AND next_dagrun_create_after <= now()"
        return int(connection.execute(sa.text(query)).scalar() or 0)


if __name__ == "__main__":
    main()
