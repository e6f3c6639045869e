"""SQLExecuteQueryOperator, GenericTransfer and SqlSensor on SQLite files: what a DAG author sees
as return values, XCom, task failures and skips. (The Postgres side is in tests/integration.)"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradewind import DAG
from tradewind.errors import AirflowException, AirflowSkipException, XComValueError
from tradewind.sdk.operators.generic_transfer import GenericTransfer
from tradewind.sdk.operators.sql import PostgresOperator, SQLExecuteQueryOperator, SqliteOperator
from tradewind.sdk.runtime import InMemoryXComBackend, RuntimeTaskInstance
from tradewind.sdk.sensors.sql import SqlSensor
from tradewind.sdk.templating import render_task_fields

pytest_plugins = ["metastore_fixtures"]

LOGICAL = datetime(2024, 3, 5, tzinfo=UTC)


@pytest.fixture
def db(monkeypatch, tmp_path) -> Path:
    """A SQLite file reachable as connection ``shop`` with a table ``orders`` of three rows."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total NUMERIC, placed TEXT)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                (1, "ada", 10.5, "2024-03-01"),
                (2, "bob", 20, "2024-03-02"),
                (3, "ada", 5.25, "2024-03-05"),
            ],
        )
    conn.close()
    monkeypatch.setenv("TRADEWIND_CONN_SHOP", f"sqlite:///{path}")
    return path


def _context(task, *, xcom_max_bytes: int = 1_048_576) -> dict:
    ti = RuntimeTaskInstance(
        task=task,
        dag_id=task.dag_id,
        run_id="manual__1",
        try_number=1,
        max_tries=0,
        xcom=InMemoryXComBackend(task.task_id),
        xcom_max_bytes=xcom_max_bytes,
        logical_date=LOGICAL,
    )
    return {
        "ti": ti,
        "task_instance": ti,
        "task": task,
        "dag": task.dag,
        "params": {},
        "run_id": "manual__1",
        "logical_date": LOGICAL,
        "ds": "2024-03-05",
    }


def _run(task, **kwargs):
    context = _context(task, **kwargs)
    render_task_fields(task, context)
    return task.execute(context)


def _dag(dag_id: str, **kwargs) -> DAG:
    return DAG(dag_id, schedule=None, start_date=LOGICAL, **kwargs)


def _rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# -- SQLExecuteQueryOperator ------------------------------------------------------------------


def test_query_rows_are_the_return_value_as_json_lists(db):
    with _dag("sql_select"):
        task = SQLExecuteQueryOperator(
            task_id="q",
            conn_id="shop",
            sql="SELECT customer, SUM(total) FROM orders WHERE placed <= '{{ ds }}' GROUP BY customer ORDER BY 1",
        )
    assert _run(task) == [["ada", 15.75], ["bob", 20]]


def test_templated_sql_file_and_parameters(db, tmp_path):
    (tmp_path / "by_customer.sql").write_text("SELECT id FROM orders WHERE customer = :who ORDER BY id")
    with _dag("sql_file", template_searchpath=str(tmp_path)):
        task = SQLExecuteQueryOperator(
            task_id="q",
            conn_id="shop",
            sql="by_customer.sql",
            parameters={"who": "{{ params.who }}"},
            params={"who": "ada"},
        )
    context = _context(task)
    context["params"] = {"who": "ada"}
    render_task_fields(task, context)
    assert task.execute(context) == [[1], [3]]


def test_list_of_statements_runs_in_one_transaction_and_returns_each_result(db):
    with _dag("sql_list"):
        task = SQLExecuteQueryOperator(
            task_id="q",
            conn_id="shop",
            return_last=False,
            sql=["INSERT INTO orders VALUES (4, 'cy', 1, '2024-03-06')", "SELECT COUNT(*) FROM orders"],
        )
    assert _run(task) == [None, [[4]]]
    assert _rows(db, "SELECT customer FROM orders WHERE id = 4") == [("cy",)]


def test_split_statements_returns_the_last_result(db):
    with _dag("sql_split"):
        task = SQLExecuteQueryOperator(
            task_id="q",
            conn_id="shop",
            split_statements=True,
            sql="DELETE FROM orders WHERE id = 1; SELECT COUNT(*) FROM orders;",
        )
    assert _run(task) == [[2]]


def test_failing_statement_fails_the_task_and_changes_nothing(db):
    with _dag("sql_fail"):
        task = SQLExecuteQueryOperator(
            task_id="q", conn_id="shop", sql=["DELETE FROM orders", "SELECT * FROM no_such_table"]
        )
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        _run(task)
    assert _rows(db, "SELECT COUNT(*) FROM orders") == [(3,)]


def test_without_xcom_push_nothing_is_returned(db):
    with _dag("sql_no_xcom"):
        task = SQLExecuteQueryOperator(task_id="q", conn_id="shop", sql="SELECT * FROM orders", do_xcom_push=False)
    assert _run(task) is None


def test_result_larger_than_the_xcom_limit_fails_with_the_limit_in_the_message(db):
    with _dag("sql_big"):
        task = SQLExecuteQueryOperator(task_id="q", conn_id="shop", sql="SELECT * FROM orders")
    context = _context(task, xcom_max_bytes=40)
    value = task.execute(context)
    with pytest.raises(XComValueError, match="larger than the limit of 40 bytes"):
        context["ti"].xcom_push("return_value", value)


def test_output_processor_and_fetch_one_handler(db):
    from tradewind.sdk.hooks.sql import fetch_one_handler

    with _dag("sql_processor"):
        named = SQLExecuteQueryOperator(
            task_id="named",
            conn_id="shop",
            sql="SELECT id, customer FROM orders ORDER BY id",
            output_processor=lambda results, descriptions: [
                [dict(zip([c[0] for c in descriptions[0]], row, strict=True)) for row in results[0]]
            ],
        )
        first = SQLExecuteQueryOperator(
            task_id="first", conn_id="shop", handler=fetch_one_handler, sql="SELECT MAX(total) FROM orders"
        )
    assert _run(named)[0] == {"id": 1, "customer": "ada"}
    assert _run(first) == [20]


def test_missing_connection_and_missing_conn_id_are_clear(db, sqlite_metastore):
    with _dag("sql_conn_errors"):
        unknown = SQLExecuteQueryOperator(task_id="unknown", conn_id="nowhere_db", sql="SELECT 1")
        absent = SQLExecuteQueryOperator(task_id="absent", sql="SELECT 1")
    with pytest.raises(AirflowException, match="conn_id `nowhere_db` isn't defined"):
        _run(unknown)
    with pytest.raises(AirflowException, match="conn_id is required"):
        _run(absent)


def test_older_operator_names_map_their_conn_id():
    with _dag("sql_old_names"):
        pg = PostgresOperator(task_id="pg", sql="SELECT 1", database="sales")
        lite = SqliteOperator(task_id="lite", sql="SELECT 1", sqlite_conn_id="shop")
    assert (pg.conn_id, pg.database) == ("postgres_default", "sales")
    assert lite.conn_id == "shop"


# -- GenericTransfer --------------------------------------------------------------------------


def test_transfer_between_two_files_runs_the_preoperator_on_the_destination(db, monkeypatch, tmp_path):
    copy = tmp_path / "copy.db"
    monkeypatch.setenv("TRADEWIND_CONN_COPY", f"sqlite:///{copy}")
    with _dag("transfer_files"):
        task = GenericTransfer(
            task_id="t",
            source_conn_id="shop",
            destination_conn_id="copy",
            destination_table="orders_copy",
            sql="SELECT id, customer, total FROM orders WHERE placed <= '{{ ds }}'",
            preoperator=["DROP TABLE IF EXISTS orders_copy", "CREATE TABLE orders_copy (id int, who text, t real)"],
            insert_args={"commit_every": 2},
            page_size=1,
        )
    assert _run(task) is None
    assert _rows(copy, "SELECT * FROM orders_copy ORDER BY id") == [
        (1, "ada", 10.5),
        (2, "bob", 20.0),
        (3, "ada", 5.25),
    ]


def test_transfer_within_one_file_copies_inside_the_database(db):
    with _dag("transfer_same"):
        task = GenericTransfer(
            task_id="t",
            source_conn_id="shop",
            destination_conn_id="shop",
            destination_table="big_orders",
            sql="SELECT id, total FROM orders WHERE total > 6;",
            preoperator="CREATE TABLE big_orders (id int, total real)",
            insert_args={"target_fields": ["id", "total"], "commit_every": 10},
        )
    _run(task)
    assert _rows(db, "SELECT * FROM big_orders ORDER BY id") == [(1, 10.5), (2, 20.0)]


def test_transfer_with_bad_insert_args_fails_clearly(db, monkeypatch, tmp_path):
    monkeypatch.setenv("TRADEWIND_CONN_COPY", f"sqlite:///{tmp_path}/copy.db")
    with _dag("transfer_bad_args"):
        task = GenericTransfer(
            task_id="t",
            source_conn_id="shop",
            destination_conn_id="copy",
            destination_table="x",
            sql="SELECT 1",
            preoperator="CREATE TABLE x (a int)",
            insert_args={"colour": "red"},
        )
    with pytest.raises(AirflowException, match="bad insert_args: .*unexpected arguments: colour"):
        _run(task)
    with pytest.raises(AirflowException, match="page_size must be a whole number"):
        GenericTransfer(
            task_id="t2",
            source_conn_id="a",
            destination_conn_id="b",
            destination_table="x",
            sql="SELECT 1",
            page_size=0,
        )


# -- SqlSensor --------------------------------------------------------------------------------


def _sensor(**kwargs) -> SqlSensor:
    with _dag(f"sql_sensor_{len(kwargs)}_{id(kwargs)}"):
        return SqlSensor(task_id="wait", conn_id="shop", poke_interval=1, **kwargs)


def test_sensor_pokes_the_first_cell(db):
    context = _context(_sensor(sql="SELECT 1"))
    assert _sensor(sql="SELECT COUNT(*) FROM orders WHERE customer = 'ada'").poke(context) is True
    assert _sensor(sql="SELECT COUNT(*) FROM orders WHERE customer = 'zed'").poke(context) is False
    assert _sensor(sql="SELECT id FROM orders WHERE id = 99").poke(context) is False


def test_sensor_success_and_failure_callables(db):
    context = _context(_sensor(sql="SELECT 1"))
    at_least_three = _sensor(sql="SELECT COUNT(*) FROM orders", success=lambda n: n >= 3)
    assert at_least_three.poke(context) is True
    doomed = _sensor(sql="SELECT MAX(total) FROM orders", failure=lambda total: total > 15)
    with pytest.raises(AirflowException, match=r"Failure criteria met. self.failure\(20\) returned True"):
        doomed.poke(context)
    soft = _sensor(sql="SELECT MAX(total) FROM orders", failure=lambda total: total > 15, soft_fail=True)
    with pytest.raises(AirflowSkipException, match="Failure criteria met"):
        soft.poke(context)


def test_sensor_fail_on_empty(db):
    sensor = _sensor(sql="SELECT id FROM orders WHERE id = 99", fail_on_empty=True)
    with pytest.raises(AirflowException, match="No rows returned, raising as per fail_on_empty flag"):
        sensor.poke(_context(sensor))


def test_sensor_in_poke_mode_returns_once_a_row_appears(db):
    sensor = _sensor(sql="SELECT COUNT(*) FROM orders WHERE customer = 'new'")
    waits = []

    def add_row_while_waiting(seconds):
        waits.append(seconds)
        with sqlite3.connect(db) as conn:
            conn.execute("INSERT INTO orders VALUES (9, 'new', 1, '2024-03-05')")
        conn.close()

    sensor.sleep = add_row_while_waiting
    _run(sensor)
    assert waits == [1]


def test_sensor_rejects_a_success_that_is_not_callable():
    with pytest.raises(AirflowException, match="success must be a callable"):
        _sensor(sql="SELECT 1", success=True)


# -- serialization ----------------------------------------------------------------------------


def test_sql_tasks_survive_serialization_with_their_templated_fields():
    from tradewind.sdk.serialization import deserialize_dag, serialize_dag

    with _dag("sql_serialized") as dag:
        query = SQLExecuteQueryOperator(
            task_id="q", conn_id="shop", sql=["SELECT {{ ds }}", "SELECT 2"], parameters={"a": 1}
        )
        move = GenericTransfer(
            task_id="t",
            source_conn_id="a",
            destination_conn_id="b",
            destination_table="x",
            sql="SELECT 1",
            preoperator="DELETE FROM x",
            insert_args={"commit_every": 10},
        )
        wait = SqlSensor(task_id="w", conn_id="shop", sql="SELECT 1", mode="reschedule", poke_interval=5)
        query >> move >> wait
    data = serialize_dag(dag)
    restored = deserialize_dag(data)
    assert serialize_dag(restored) == data
    assert restored.get_task("q").template_values["sql"] == ["SELECT {{ ds }}", "SELECT 2"]
    assert restored.get_task("q").template_ext == (".sql", ".json")
    assert restored.get_task("t").template_values["insert_args"] == {"commit_every": 10}
    sensor = restored.get_task("w")
    assert sensor.is_sensor and sensor.mode == "reschedule"
    assert restored.get_task("t").upstream_task_ids == {"q"}
