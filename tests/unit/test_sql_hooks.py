"""SQL hooks: connections become SQLAlchemy URLs, statements split, rows batch and become JSON,
and the DbApiHook API works on SQLite files (no server needed)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pytest

from tradewind.errors import AirflowException, AirflowNotFoundException
from tradewind.sdk import runtime_services
from tradewind.sdk.connection import Connection
from tradewind.sdk.hooks.mysql import MySqlHook
from tradewind.sdk.hooks.postgres import PostgresHook
from tradewind.sdk.hooks.sql import DbApiHook, hook_for_connection
from tradewind.sdk.hooks.sql_dialects import SqlConnectionError, sqlalchemy_url, sqlite_path
from tradewind.sdk.hooks.sql_results import (
    batched,
    json_safe_cell,
    return_single_query_results,
    split_sql_string,
)
from tradewind.sdk.hooks.sqlite import SqliteHook, sqlite_cell
from tradewind.task_services import MetastoreServices

pytest_plugins = ["metastore_fixtures"]


def _url(uri: str, **kwargs) -> str:
    return sqlalchemy_url(Connection(conn_id="c", uri=uri), **kwargs).render_as_string(hide_password=False)


# -- connection → URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgres://u:p%40ss@db.example:5433/sales", "postgresql+psycopg2://u:p%40ss@db.example:5433/sales"),
        ("postgresql://postgres@127.0.0.1:5432/dbname", "postgresql+psycopg2://postgres@127.0.0.1:5432/dbname"),
        ("postgres://u@h/db?sslmode=require&cursor=dictcursor", "postgresql+psycopg2://u@h/db?sslmode=require"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("sqlite:///tmp/x.db", "sqlite:////tmp/x.db"),
        ("sqlite://relative/path/to/db", "sqlite:///relative/path/to/db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_connection_uri_maps_to_sqlalchemy_url(uri, expected):
    assert _url(uri) == expected


def test_sqlite_extra_mode_ro_opens_the_file_read_only(monkeypatch, tmp_path):
    path = tmp_path / "ro.db"
    monkeypatch.setenv("TRADEWIND_CONN_RW_FILE", f"sqlite:///{path}")
    monkeypatch.setenv("TRADEWIND_CONN_RO_FILE", f"sqlite:///{path}?mode=ro")
    hook_for_connection("rw_file").run("CREATE TABLE t (a int)")
    read_only = hook_for_connection("ro_file")
    assert read_only.sqlalchemy_url.database == f"file:{path}"
    assert read_only.sqlalchemy_url.query == {"mode": "ro", "uri": "true"}
    assert read_only.get_records("SELECT * FROM t") == []
    with pytest.raises(Exception, match="readonly"):
        read_only.run("INSERT INTO t VALUES (1)")


def test_sqlite_connection_entered_as_fields_uses_the_host_as_the_file():
    conn = Connection(conn_id="c", conn_type="sqlite", host="/data/app.db")
    assert sqlite_path(conn) == "/data/app.db"
    assert sqlalchemy_url(conn).database == "/data/app.db"


def test_hook_database_overrides_the_connection_schema():
    assert _url("postgres://u@h:5432/one", database="two") == "postgresql+psycopg2://u@h:5432/two"


def test_unknown_connection_type_is_a_one_line_error():
    with pytest.raises(SqlConnectionError, match="type 'ftp', which has no SQL hook; SQL hooks support"):
        _url("ftp://h")


def test_mysql_without_a_driver_names_the_drivers_to_install():
    conn = Connection(conn_id="shop", uri="mysql://u:p@h:3306/shop")
    with pytest.raises(
        SqlConnectionError,
        match="'shop' is a MySQL connection but no MySQL driver is installed; install mysqlclient or PyMySQL",
    ):
        sqlalchemy_url(conn, driver_available=lambda module: False)


def test_mysql_uses_the_installed_driver_or_the_client_the_extra_names():
    conn = Connection(conn_id="shop", uri="mysql://u:p@h:3306/shop")
    url = sqlalchemy_url(conn, driver_available=lambda module: module == "pymysql")
    assert url.drivername == "mysql+pymysql"
    named = Connection(conn_id="shop", conn_type="mysql", host="h", extra={"client": "mysql-connector-python"})
    assert sqlalchemy_url(named, driver_available=lambda m: True).drivername == "mysql+mysqlconnector"
    with pytest.raises(SqlConnectionError, match="unknown MySQL client 'odbc'"):
        sqlalchemy_url(
            Connection(conn_id="x", conn_type="mysql", extra={"client": "odbc"}), driver_available=lambda m: True
        )


# -- statements and results -------------------------------------------------------------------


def test_split_sql_string_keeps_semicolons_inside_strings_and_bodies():
    script = """
        -- set up
        CREATE TABLE t (a text);
        INSERT INTO t VALUES ('x;y');
        CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
        ;
    """
    assert split_sql_string(script) == [
        "CREATE TABLE t (a text)",
        "INSERT INTO t VALUES ('x;y')",
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
    ]


@pytest.mark.parametrize(
    ("sql", "return_last", "split", "single"),
    [
        ("SELECT 1", True, False, True),
        ("SELECT 1; SELECT 2", True, True, True),
        ("SELECT 1; SELECT 2", False, True, False),
        (["SELECT 1"], True, False, False),
    ],
)
def test_return_single_query_results_follows_airflow(sql, return_last, split, single):
    assert return_single_query_results(sql, return_last, split) is single


def test_batched_reads_lazily_and_keeps_the_remainder():
    consumed = []

    def rows():
        for i in range(7):
            consumed.append(i)
            yield (i,)

    batches = batched(rows(), 3)
    assert next(batches) == [(0,), (1,), (2,)]
    assert consumed == [0, 1, 2]
    assert list(batches) == [[(3,), (4,), (5,)], [(6,)]]
    with pytest.raises(ValueError, match="at least 1"):
        next(batched([], 0))


def test_rows_become_plain_json():
    row = (
        1,
        "a",
        None,
        True,
        1.5,
        decimal.Decimal("12.50"),
        decimal.Decimal("3"),
        decimal.Decimal("123456789012345678.123456789"),
        decimal.Decimal("NaN"),
        float("inf"),
        dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
        dt.date(2024, 5, 1),
        dt.time(8, 15),
        dt.timedelta(minutes=2),
        uuid.UUID(int=1),
        b"\x00\xff",
        {"k": (1, 2)},
        [decimal.Decimal("0.1")],
    )
    converted = json_safe_cell([row])
    assert converted == [
        [
            1,
            "a",
            None,
            True,
            1.5,
            12.5,
            3,
            "123456789012345678.123456789",
            "NaN",
            "inf",
            "2024-05-01T12:30:00+00:00",
            "2024-05-01",
            "08:15:00",
            120.0,
            "00000000-0000-0000-0000-000000000001",
            "AP8=",
            {"k": [1, 2]},
            [0.1],
        ]
    ]
    json.dumps(converted, allow_nan=False)


def test_sqlite_cells_keep_exact_values():
    assert sqlite_cell(decimal.Decimal("10.10")) == "10.10"
    assert sqlite_cell(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05"
    assert sqlite_cell({"a": 1}) == '{"a": 1}'
    assert sqlite_cell(memoryview(b"ab")) == b"ab"


# -- hook arguments ---------------------------------------------------------------------------


def test_hook_takes_its_conn_id_positionally_by_its_own_name_or_by_default():
    assert PostgresHook("pg").postgres_conn_id == "pg"
    assert PostgresHook(postgres_conn_id="pg2").get_conn_id() == "pg2"
    assert PostgresHook().get_conn_id() == "postgres_default"
    assert SqliteHook().sqlite_conn_id == "sqlite_default"
    assert MySqlHook(schema="shop").database == "shop"
    assert PostgresHook("pg", database="other").database == "other"
    with pytest.raises(TypeError, match="unexpected arguments: colour"):
        SqliteHook("s", colour="red")


def test_postgres_replace_is_an_on_conflict_upsert():
    hook = PostgresHook("pg")
    sql = hook._generate_insert_sql("t", 3, ["id", "a", "b"], True, replace_index="id")
    assert sql == ("INSERT INTO t (id, a, b) VALUES %s ON CONFLICT (id) DO UPDATE SET a = excluded.a, b = excluded.b")
    with pytest.raises(ValueError, match="requires column names"):
        hook._generate_insert_sql("t", 3, None, True, replace_index="id")
    with pytest.raises(ValueError, match="requires a unique index"):
        hook._generate_insert_sql("t", 1, ["id"], True)


def test_sqlite_replace_is_replace_into():
    assert SqliteHook("s")._generate_insert_sql("t", 2, None, True) == "REPLACE INTO t VALUES (?, ?)"


def test_hook_for_connection_picks_the_class_by_type(monkeypatch, tmp_path):
    monkeypatch.setenv("TRADEWIND_CONN_LOCAL_PG", "postgres://u@h/db")
    monkeypatch.setenv("TRADEWIND_CONN_LOCAL_FILE", f"sqlite:///{tmp_path}/a.db")
    monkeypatch.setenv("TRADEWIND_CONN_FTP_BOX", "ftp://h")
    assert type(hook_for_connection("local_pg")) is PostgresHook
    assert type(hook_for_connection("local_file")) is SqliteHook
    with pytest.raises(SqlConnectionError, match="'ftp_box' has type 'ftp'"):
        hook_for_connection("ftp_box")
    with pytest.raises(AirflowException, match="unexpected arguments: nope"):
        hook_for_connection("local_file", {"nope": 1})


def test_sqlite_default_works_without_being_defined(sqlite_metastore, monkeypatch, tmp_path):
    services = runtime_services.current()
    runtime_services.install(
        MetastoreServices(services.settings.with_overrides(home=tmp_path / "home"), sqlite_metastore)
    )
    monkeypatch.delenv("TRADEWIND_CONN_SQLITE_DEFAULT", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SQLITE_DEFAULT", raising=False)
    hook = hook_for_connection("sqlite_default")
    assert hook.sqlalchemy_url.database == str(tmp_path / "home" / "sqlite_default.db")
    assert hook.get_first("SELECT 1") == (1,)
    with pytest.raises(AirflowNotFoundException, match="other_db"):
        hook_for_connection("other_db")


def test_connection_stored_in_the_metastore_reaches_its_database(sqlite_metastore, tmp_path):
    from tradewind.metastore import connections

    with sqlite_metastore() as session:
        connections.set_connection(session, "stored_db", {"conn_type": "sqlite", "host": str(tmp_path / "s.db")})
        session.commit()
    hook = hook_for_connection("stored_db")
    assert type(hook) is SqliteHook
    hook.run("CREATE TABLE t (a int)")
    assert (tmp_path / "s.db").exists()


# -- the DbApiHook API on SQLite --------------------------------------------------------------


@pytest.fixture
def sqlite_hook(monkeypatch, tmp_path) -> DbApiHook:
    monkeypatch.setenv("TRADEWIND_CONN_UNIT_DB", f"sqlite:///{tmp_path}/unit.db")
    hook = hook_for_connection("unit_db")
    hook.run("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price NUMERIC)")
    return hook


def test_insert_rows_commits_each_batch_and_counts(sqlite_hook):
    rows = ((i, f"item {i}", decimal.Decimal("1.25")) for i in range(2_345))
    assert sqlite_hook.insert_rows("items", rows, commit_every=1000) == 2_345
    assert sqlite_hook.get_first("SELECT COUNT(*), SUM(price) FROM items") == (2_345, 2_931.25)


def test_insert_rows_with_target_fields_and_replace(sqlite_hook):
    sqlite_hook.insert_rows("items", [(1, "a"), (2, "b")], target_fields=["id", "name"])
    sqlite_hook.insert_rows("items", [(1, "changed")], target_fields=["id", "name"], replace=True)
    assert sqlite_hook.get_records("SELECT id, name FROM items ORDER BY id") == [(1, "changed"), (2, "b")]


def test_insert_rows_rejects_rows_of_another_width_and_keeps_earlier_batches(sqlite_hook):
    rows = [(1, "a", 1), (2, "b", 2), (3, "c")]
    with pytest.raises(ValueError, match="row 3 has 2 values but the first row has 3"):
        sqlite_hook.insert_rows("items", rows, commit_every=2)
    assert sqlite_hook.get_first("SELECT COUNT(*) FROM items") == (2,)


def test_run_with_a_list_returns_each_result_and_rolls_back_on_error(sqlite_hook):
    results = sqlite_hook.run(
        ["INSERT INTO items VALUES (1, 'a', 1)", "SELECT name FROM items"], handler=lambda cursor: cursor.fetchall()
    )
    assert results == [[], [("a",)]]
    with pytest.raises(Exception, match="no such table"):
        sqlite_hook.run(["INSERT INTO items VALUES (2, 'b', 2)", "SELECT * FROM missing"])
    assert sqlite_hook.get_records("SELECT id FROM items") == [(1,)]


def test_run_splits_a_script_and_returns_the_last_result(sqlite_hook):
    script = "INSERT INTO items VALUES (1, 'a', 1); INSERT INTO items VALUES (2, 'b', 2); SELECT COUNT(*) FROM items;"
    assert sqlite_hook.run(script, split_statements=True, handler=lambda c: c.fetchall()) == [(2,)]
    assert sqlite_hook.last_description[0][0] == "COUNT(*)"
    with pytest.raises(ValueError, match="List of SQL statements is empty"):
        sqlite_hook.run([])


def test_get_records_and_get_first_take_parameters(sqlite_hook):
    sqlite_hook.insert_rows("items", [(i, f"n{i}", i) for i in range(5)])
    assert sqlite_hook.get_records("SELECT id FROM items WHERE price >= ? ORDER BY id", (3,)) == [(3,), (4,)]
    assert sqlite_hook.get_first("SELECT name FROM items WHERE id = :id", {"id": 2}) == ("n2",)
    assert sqlite_hook.get_first("SELECT name FROM items WHERE id = 99") is None


def test_iter_records_streams_every_row(sqlite_hook):
    sqlite_hook.insert_rows("items", [(i, f"n{i}", i) for i in range(250)])
    rows = sqlite_hook.iter_records("SELECT id FROM items ORDER BY id", batch_size=100)
    assert next(rows) == (0,)
    assert [row[0] for row in rows] == list(range(1, 250))


def test_autocommit_run_is_visible_at_once_and_engine_reads_the_same_file(sqlite_hook):
    sqlite_hook.run("INSERT INTO items VALUES (7, 'x', 1)", autocommit=True)
    engine = sqlite_hook.get_sqlalchemy_engine()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT name FROM items").scalar() == "x"
    engine.dispose()
    assert sqlite_hook.test_connection() == (True, "Connection successfully tested")


def test_get_pandas_df_says_pandas_is_not_provided(sqlite_hook):
    with pytest.raises(AirflowException, match="do not build pandas DataFrames"):
        sqlite_hook.get_pandas_df("SELECT 1")
