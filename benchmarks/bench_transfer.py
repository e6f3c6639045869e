"""How fast ``GenericTransfer`` moves 100,000 rows, and how much memory it takes doing so.

A fresh PostgreSQL database gets a table of 100,000 orders (integer, text, numeric, timestamp,
nullable text). Each transfer runs in a new Python process: PostgreSQL → SQLite file and SQLite
file → PostgreSQL with GenericTransfer (streaming, batches of ``--batch`` rows), and, for comparison,
PostgreSQL → SQLite the way Airflow's GenericTransfer does it (``get_records`` of everything, then
``insert_rows``). Printed per transfer: the median rows per second over ``--runs`` runs and the
peak memory growth of the process (``ru_maxrss`` at the end minus the resident size just before
the transfer started).

    .venv/bin/python benchmarks/bench_transfer.py [--rows 100000] [--runs 3] [--batch 1000]
        [--pg-admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SCENARIOS = {
    "pg_to_sqlite": "PostgreSQL → SQLite, streaming",
    "sqlite_to_pg": "SQLite → PostgreSQL, streaming",
    "pg_to_sqlite_in_memory": "PostgreSQL → SQLite, all rows in memory first (Airflow's way)",
}
COLUMNS = "id, customer, amount, placed_at, note"


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _transfer(source: str, destination: str, table: str, preoperator: list[str], batch: int) -> Any:
    from datetime import UTC, datetime

    from tradewind.sdk.dag import DAG
    from tradewind.sdk.operators.generic_transfer import GenericTransfer

    with DAG(f"bench_{uuid.uuid4().hex}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
        return GenericTransfer(
            task_id="transfer",
            source_conn_id=source,
            destination_conn_id=destination,
            destination_table=table,
            sql=f"SELECT {COLUMNS} FROM orders",
            preoperator=preoperator,
            insert_args={"commit_every": batch},
            page_size=batch,
        )


def child(scenario: str, batch: int) -> None:
    """Run one transfer in this process and print its figures as JSON."""
    import logging

    from tradewind.sdk.hooks.sql import hook_for_connection

    logging.disable(logging.INFO)
    sqlite_table = [
        "DROP TABLE IF EXISTS orders",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount NUMERIC, placed_at TEXT, note TEXT)",
    ]
    warehouse = hook_for_connection("bench_warehouse")
    local = hook_for_connection("bench_local")
    warehouse.get_first("SELECT 1")  # load the drivers before measuring
    local.get_first("SELECT 1")
    import psycopg2.extras  # noqa: F401

    rss_before = _resident_bytes()
    started = time.perf_counter()
    if scenario == "pg_to_sqlite":
        _transfer("bench_warehouse", "bench_local", "orders", sqlite_table, batch).execute({})
        rows = local.get_first("SELECT COUNT(*) FROM orders")[0]
    elif scenario == "sqlite_to_pg":
        _transfer(
            "bench_local",
            "bench_warehouse",
            "orders_back",
            ["DROP TABLE IF EXISTS orders_back", "CREATE TABLE orders_back (LIKE orders INCLUDING ALL)"],
            batch,
        ).execute({})
        rows = warehouse.get_first("SELECT COUNT(*) FROM orders_back")[0]
    else:
        local.run(sqlite_table)
        records = warehouse.get_records(f"SELECT {COLUMNS} FROM orders")
        rows = local.insert_rows("orders", records, commit_every=batch)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "growth": max(peak - rss_before, 0)}))


def _create_database(admin_url: str, rows: int) -> str:
    import psycopg2

    name = f"tw_bench_transfer_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        cursor.execute("""
            CREATE TABLE orders (id integer PRIMARY KEY, customer text NOT NULL, amount numeric(12, 2) NOT NULL,
                                 placed_at timestamp NOT NULL, note text)
        """)
        cursor.execute(f"""
            INSERT INTO orders
            SELECT g, 'customer ' || (g % 977), round((g % 10007) * 1.37, 2),
                   timestamp '2024-01-01' + g * interval '1 second',
                   CASE WHEN g % 5 = 0 THEN NULL ELSE repeat('x', g % 40) END
            FROM generate_series(1, {int(rows)}) AS g
        """)
    conn.close()
    return url


def _drop_database(admin_url: str, url: str) -> None:
    import psycopg2

    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    admin.close()


def _run_child(scenario: str, batch: int, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", scenario, "--batch", str(batch)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{scenario} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch)
        return

    url = _create_database(args.pg_admin_url, args.rows)
    try:
        with tempfile.TemporaryDirectory(prefix="tradewind-bench-") as tmp:
            env = {
                **os.environ,
                "TRADEWIND_HOME": tmp,
                "TRADEWIND_CONN_BENCH_WAREHOUSE": url,
                "TRADEWIND_CONN_BENCH_LOCAL": f"sqlite:///{Path(tmp) / 'local.db'}",
            }
            print(f"{args.rows:,} rows, batches of {args.batch:,}, median of {args.runs} runs")
            print(f"{'transfer':<62} {'rows/s':>10} {'peak MB':>8}")
            for scenario, title in SCENARIOS.items():
                results = [_run_child(scenario, args.batch, env) for _ in range(args.runs)]
                assert all(r["rows"] == args.rows for r in results), results
                rate = statistics.median(r["rows"] / r["seconds"] for r in results)
                growth = statistics.median(r["growth"] for r in results) / 1e6
                print(f"{title:<62} {rate:>10,.0f} {growth:>8.1f}")
    finally:
        _drop_database(args.pg_admin_url, url)


if __name__ == "__main__":
    main()
