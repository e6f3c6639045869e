"""SQL hooks, SQLExecuteQueryOperator, GenericTransfer and SqlSensor on the real PostgreSQL.

The transfer test moves 100,000 rows from Postgres into a SQLite file and back, and checks that the
memory it takes stays far below what holding the rows would (tracemalloc counts every Python
allocation: rows, tuples, the driver's result objects) and that counts and checksums match.
"""

from __future__ import annotations

import hashlib
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import LOGICAL_DATE, RUN_ID, Cli, metastore_session

from tradewind import DAG
from tradewind.metastore import xcoms
from tradewind.sdk.hooks.sql import DbApiHook, hook_for_connection
from tradewind.sdk.operators.generic_transfer import GenericTransfer
from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance
from tradewind.sdk.sensors.sql import SqlSensor

pytestmark = pytest.mark.integration

ROWS = 100_000
SOURCE_TABLE_SQL = """
    CREATE TABLE orders (
        id integer PRIMARY KEY, customer text NOT NULL, amount numeric(12, 2) NOT NULL,
        placed_at timestamp NOT NULL, note text
    )
"""
FILL_SQL = f"""
    INSERT INTO orders
    SELECT g, 'customer ' || (g % 977), round((g % 10007) * 1.37, 2),
           timestamp '2024-01-01' + g * interval '1 second',
           CASE WHEN g % 5 = 0 THEN NULL ELSE repeat('x', g % 40) END
    FROM generate_series(1, {ROWS}) AS g
"""


@pytest.fixture
def warehouse(new_pg_url: Callable[[], str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> DbApiHook:
    """A Postgres database as connection ``warehouse`` (with a filled ``orders`` table) and a
    SQLite file as connection ``local_copy``."""
    monkeypatch.setenv("TRADEWIND_CONN_WAREHOUSE", new_pg_url())
    monkeypatch.setenv("TRADEWIND_CONN_LOCAL_COPY", f"sqlite:///{tmp_path / 'copy.db'}")
    hook = hook_for_connection("warehouse")
    hook.run([SOURCE_TABLE_SQL, FILL_SQL])
    return hook


def _context(task: Any) -> dict[str, Any]:
    ti = RuntimeTaskInstance(
        task=task,
        dag_id=task.dag_id,
        run_id="manual__1",
        try_number=1,
        max_tries=0,
        xcom=InMemoryXComBackend(task.task_id),
    )
    return {"ti": ti, "task_instance": ti, "task": task, "dag": task.dag, "params": {}}


def _transfer(task_id: str, **kwargs: Any) -> GenericTransfer:
    with DAG(f"transfer_{task_id}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
        return GenericTransfer(task_id=task_id, **kwargs)


def _peak_bytes(action: Callable[[], Any]) -> tuple[int, Any]:
    """The most memory Python held at once while ``action`` ran, above what it held before."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = action()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before, result


def _checksum(hook: DbApiHook, table: str) -> tuple[int, str]:
    """(row count, sha256 of the rows in id order), each value written the same way whichever
    database it came from (SQLite gives amounts as floats and timestamps as text)."""
    digest = hashlib.sha256()
    count = 0
    for row_id, customer, amount, placed_at, note in hook.iter_records(
        f"SELECT id, customer, amount, placed_at, note FROM {table} ORDER BY id", batch_size=5000
    ):
        placed = placed_at if isinstance(placed_at, str) else placed_at.isoformat(sep=" ")
        digest.update(f"{row_id}|{customer}|{Decimal(str(amount)):.2f}|{placed}|{note}\n".encode())
        count += 1
    return count, digest.hexdigest()


def test_100k_rows_go_to_sqlite_and_back_in_bounded_memory_with_matching_checksums(warehouse: DbApiHook):
    holding_all, rows = _peak_bytes(lambda: warehouse.get_records("SELECT * FROM orders"))
    assert len(rows) == ROWS
    del rows

    to_sqlite = _transfer(
        "to_sqlite",
        source_conn_id="warehouse",
        destination_conn_id="local_copy",
        destination_table="orders",
        sql="SELECT id, customer, amount, placed_at, note FROM orders",
        preoperator=[
            "DROP TABLE IF EXISTS orders",
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount NUMERIC, placed_at TEXT, note TEXT)",
        ],
        insert_args={"commit_every": 1000},
        page_size=1000,
    )
    streaming_out, _ = _peak_bytes(lambda: to_sqlite.execute(_context(to_sqlite)))

    back = _transfer(
        "back",
        source_conn_id="local_copy",
        destination_conn_id="warehouse",
        destination_table="orders_back",
        sql="SELECT id, customer, amount, placed_at, note FROM orders",
        preoperator="CREATE TABLE orders_back (LIKE orders INCLUDING ALL)",
        insert_args={"commit_every": 1000, "target_fields": ["id", "customer", "amount", "placed_at", "note"]},
        page_size=1000,
    )
    streaming_back, _ = _peak_bytes(lambda: back.execute(_context(back)))

    print(
        f"holding all rows: {holding_all / 1e6:.1f} MB; streaming to SQLite: {streaming_out / 1e6:.1f} MB; "
        f"back: {streaming_back / 1e6:.1f} MB"
    )
    # Batches of a thousand rows hold about 1% of the result; a tenth is a generous ceiling.
    assert streaming_out < holding_all / 10, (streaming_out, holding_all)
    assert streaming_back < holding_all / 10, (streaming_back, holding_all)

    local = hook_for_connection("local_copy")
    source_sum = _checksum(warehouse, "orders")
    assert source_sum[0] == ROWS
    assert _checksum(local, "orders") == source_sum
    assert _checksum(warehouse, "orders_back") == source_sum
    assert warehouse.get_first("SELECT SUM(amount) = (SELECT SUM(amount) FROM orders) FROM orders_back") == (True,)


def test_transfer_within_postgres_upserts_with_replace(warehouse: DbApiHook):
    warehouse.run("CREATE TABLE totals (customer text PRIMARY KEY, amount numeric)")
    warehouse.insert_rows("totals", [("customer 1", 0), ("nobody", 5)], target_fields=["customer", "amount"])
    task = _transfer(
        "upsert",
        source_conn_id="warehouse",
        destination_conn_id="warehouse",
        destination_table="totals",
        sql="SELECT customer, SUM(amount) FROM orders GROUP BY customer",
        insert_args={"target_fields": ["customer", "amount"], "replace": True, "replace_index": "customer"},
    )
    task.execute(_context(task))
    assert warehouse.get_first("SELECT COUNT(*) FROM totals") == (978,)
    expected = warehouse.get_first("SELECT SUM(amount) FROM orders WHERE customer = 'customer 1'")
    assert warehouse.get_first("SELECT amount FROM totals WHERE customer = 'customer 1'") == expected
    assert warehouse.get_first("SELECT amount FROM totals WHERE customer = 'nobody'") == (Decimal(5),)


def test_sql_sensor_succeeds_once_a_row_appears(warehouse: DbApiHook):
    warehouse.run("CREATE TABLE arrivals (batch text, rows_loaded int)")
    with DAG("sql_sensor_pg", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)):
        sensor = SqlSensor(
            task_id="wait",
            conn_id="warehouse",
            poke_interval=0.2,
            timeout=30,
            sql="SELECT rows_loaded FROM arrivals WHERE batch = %(batch)s",
            parameters={"batch": "b1"},
            success=lambda rows: rows >= 10,
        )
    pokes: list[float] = []
    original_poke = sensor.poke

    def counted_poke(context: dict[str, Any]) -> bool:
        pokes.append(time.monotonic())
        return original_poke(context)

    sensor.poke = counted_poke  # type: ignore[method-assign]
    outcome: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: outcome.setdefault("result", sensor.execute(_context(sensor))))
    waiter.start()
    time.sleep(0.5)
    warehouse.run("INSERT INTO arrivals VALUES ('b1', 3)")
    time.sleep(0.5)
    assert waiter.is_alive(), "3 rows is not enough for success"
    warehouse.run("UPDATE arrivals SET rows_loaded = 12")
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert "result" in outcome
    assert len(pokes) >= 4


@pytest.fixture
def dag_cli(module_pg_url: str, new_pg_url: Callable[[], str], tmp_path: Path) -> Iterator[Cli]:
    dags = tmp_path / "dags"
    dags.mkdir()
    cli = Cli(home=tmp_path, dags_folder=dags, database_url=module_pg_url).with_env(
        TRADEWIND_CONN_WAREHOUSE=new_pg_url()
    )
    assert cli("db", "migrate").returncode == 0
    yield cli


def test_sql_operator_results_reach_xcom_and_the_next_task(dag_cli: Cli):
    (dag_cli.dags_folder / "sql_xcom.py").write_text(
        textwrap.dedent("""
        from datetime import datetime, timezone
        from airflow import DAG
        from airflow.operators.python import PythonOperator
        from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

        def check(ti):
            rows = ti.xcom_pull(task_ids="totals")
            assert rows == [["a", 12.5, "2024-01-01T00:00:00"], ["b", 3, "2024-01-02T00:00:00"]], rows

        with DAG("sql_xcom", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
            setup = SQLExecuteQueryOperator(
                task_id="setup", conn_id="warehouse", do_xcom_push=False,
                sql=["CREATE TABLE t (k text, v numeric(8, 2), at timestamp)",
                     "INSERT INTO t VALUES ('a', 10, '2024-01-01'), ('a', 2.5, '2024-01-01'), ('b', 3, '2024-01-02')"],
            )
            totals = SQLExecuteQueryOperator(
                task_id="totals", conn_id="warehouse",
                sql="SELECT k, SUM(v), MIN(at) FROM t WHERE at <= %(day)s GROUP BY k ORDER BY k",
                parameters={"day": "{{ ds }}"},
            )
            setup >> totals >> PythonOperator(task_id="check", python_callable=check)
    """)
    )
    result = dag_cli("dags", "test", "sql_xcom", "2024-01-03", "-q")
    assert result.returncode == 0, result
    with metastore_session(dag_cli.settings()) as session:
        run_id = RUN_ID.replace(LOGICAL_DATE, "2024-01-03")
        assert xcoms.get_xcom(session, "sql_xcom", run_id, "totals", xcoms.RETURN_VALUE) == [
            ["a", 12.5, "2024-01-01T00:00:00"],
            ["b", 3, "2024-01-02T00:00:00"],
        ]
        assert xcoms.get_xcom(session, "sql_xcom", run_id, "setup", xcoms.RETURN_VALUE, default=None) is None


def test_postgres_hook_options_and_database_reach_the_server(warehouse: DbApiHook):
    from tradewind.sdk.hooks.postgres import PostgresHook

    warehouse.run(
        ["CREATE SCHEMA sales", "CREATE TABLE sales.regions (name text)", "INSERT INTO sales.regions VALUES ('north')"]
    )
    hook = PostgresHook("warehouse", options="-c search_path=sales")
    assert hook.get_records("SELECT name FROM regions") == [("north",)]
    assert hook.get_table_primary_key("orders") == ["id"]
    other = PostgresHook("warehouse", database="postgres")
    assert other.get_first("SELECT current_database()") == ("postgres",)


def test_postgres_bulk_dump_and_load_go_through_copy(warehouse: DbApiHook, tmp_path: Path):
    from tradewind.sdk.hooks.postgres import PostgresHook

    hook = PostgresHook("warehouse")
    dump = tmp_path / "orders.tsv"
    hook.bulk_dump("orders", str(dump))
    assert len(dump.read_text().splitlines()) == ROWS
    hook.run("CREATE TABLE orders_loaded (LIKE orders)")
    hook.bulk_load("orders_loaded", str(dump))
    assert hook.get_first("SELECT COUNT(*), SUM(amount) FROM orders_loaded") == hook.get_first(
        "SELECT COUNT(*), SUM(amount) FROM orders"
    )
