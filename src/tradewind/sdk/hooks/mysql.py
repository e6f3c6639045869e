"""``MySqlHook``: ``DbApiHook`` on MySQL, as ``airflow.providers.mysql.hooks.mysql``.

tradewind installs no MySQL driver: the hook uses mysqlclient or PyMySQL when the workers have one
(or the one the connection's extra names as ``client``), and says which to install otherwise.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tradewind.sdk.hooks.sql import DbApiHook


class MySqlHook(DbApiHook):
    """``MySqlHook(mysql_conn_id="mysql_default", schema=None)``."""

    conn_name_attr: ClassVar[str] = "mysql_conn_id"  # type: ignore[misc]
    default_conn_name: ClassVar[str] = "mysql_default"  # type: ignore[misc]
    conn_type: ClassVar[str] = "mysql"  # type: ignore[misc]
    hook_name: ClassVar[str] = "MySQL"  # type: ignore[misc]

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form calls the schema "Database"."""
        return {"hidden_fields": [], "relabeling": {"schema": "Database"}, "placeholders": {"port": "3306"}}

    placeholder: ClassVar[str | None] = "%s"

    def get_autocommit(self, conn: Any) -> bool:
        # mysqlclient and PyMySQL expose autocommit as methods, mysql-connector as an attribute.
        getter = getattr(conn, "get_autocommit", None)
        if callable(getter):
            return bool(getter())
        return bool(getattr(conn, "autocommit", False))

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        setter = getattr(conn, "autocommit", None)
        if callable(setter):
            setter(autocommit)
        else:
            conn.autocommit = autocommit

    def _streaming_cursor(self, conn: Any, batch_size: int) -> Any:
        # mysqlclient and PyMySQL buffer a whole result client-side unless asked for their
        # unbuffered SSCursor; mysql-connector's default cursor is already unbuffered.
        driver = type(conn).__module__.split(".")[0]
        if driver == "MySQLdb":
            from MySQLdb.cursors import SSCursor

            return conn.cursor(SSCursor)
        if driver == "pymysql":
            from pymysql.cursors import SSCursor as PyMySQLSSCursor

            return conn.cursor(PyMySQLSSCursor)
        return conn.cursor()
