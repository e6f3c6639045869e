"""Which SQLAlchemy URL a connection stands for: its type picks the dialect and driver, its fields
fill the URL the way Airflow's SQL hooks read them.

Pure apart from asking whether a MySQL driver can be imported, so the error for a missing driver
names it before any connection is attempted.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy.engine import URL

from tradewind.errors import TradewindException

#: libpq options a Postgres connection's extra may carry (Airflow's PostgresHook passes them on).
POSTGRES_EXTRA_OPTIONS = (
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "sslpassword",
    "application_name",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "options",
    "target_session_attrs",
    "client_encoding",
)
#: SQLite URI parameters a SQLite connection's extra may carry (``{"mode": "ro"}``).
SQLITE_EXTRA_OPTIONS = ("mode", "cache", "immutable", "nolock", "vfs", "psow")
#: MySQL connector options a MySQL connection's extra may carry.
MYSQL_EXTRA_OPTIONS = ("charset", "ssl_mode", "unix_socket", "connect_timeout", "local_infile")

#: The ``client`` a MySQL connection's extra may name → (module to import, SQLAlchemy driver, pip name).
MYSQL_CLIENTS = {
    "mysqlclient": ("MySQLdb", "mysqldb", "mysqlclient"),
    "pymysql": ("pymysql", "pymysql", "PyMySQL"),
    "mysql-connector-python": ("mysql.connector", "mysqlconnector", "mysql-connector-python"),
}

_POSTGRES_TYPES = ("postgres", "postgresql")
_MYSQL_TYPES = ("mysql",)
_SQLITE_TYPES = ("sqlite",)
SUPPORTED_TYPES = (*_POSTGRES_TYPES, *_SQLITE_TYPES, *_MYSQL_TYPES)


class SqlConnectionError(TradewindException):
    """A connection cannot be turned into a SQL database URL (unknown type, missing driver)."""


class ConnectionFields(Protocol):
    """What a SQL hook reads from a connection (``tradewind.sdk.connection.Connection`` has it)."""

    conn_id: str | None
    conn_type: str | None
    host: str | None
    port: int | None
    login: str | None
    password: str | None
    schema: str | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def normalized_type(conn_type: str | None) -> str:
    return (conn_type or "").strip().lower().replace("-", "_")


def sqlalchemy_url(conn: ConnectionFields, *, database: str | None = None, driver_available: Any = None) -> URL:
    """The SQLAlchemy URL for ``conn``; ``database`` (a hook's ``schema``/``database`` argument)
    overrides the connection's schema. ``driver_available(module)`` defaults to an import check."""
    kind = normalized_type(conn.conn_type)
    extra = _extra(conn)
    if kind in _POSTGRES_TYPES:
        return URL.create(
            "postgresql+psycopg2",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=database or conn.schema or None,
            query=_options(extra, POSTGRES_EXTRA_OPTIONS),
        )
    if kind in _SQLITE_TYPES:
        return _sqlite_url(conn, database, extra)
    if kind in _MYSQL_TYPES:
        driver = mysql_driver(conn, extra, driver_available or _importable)
        return URL.create(
            f"mysql+{driver}",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=database or conn.schema or None,
            query=_options(extra, MYSQL_EXTRA_OPTIONS),
        )
    raise SqlConnectionError(
        f"connection {conn.conn_id!r} has type {conn.conn_type!r}, which has no SQL hook; "
        f"SQL hooks support the types {', '.join(SUPPORTED_TYPES)}"
    )


def sqlite_path(conn: ConnectionFields, database: str | None = None) -> str:
    """The database file a SQLite connection names, as Airflow reads it.

    The host holds the path when the connection was entered as fields (Airflow's form); a URI
    ``sqlite:///abs/path`` leaves the host empty and the path (without its first slash) in the
    schema, which Airflow reads as absolute; ``sqlite://relative/path`` splits a relative path
    between host and schema. No path at all is an in-memory database.
    """
    if database:
        return database
    host = conn.host or ""
    schema = conn.schema or ""
    if host and schema:
        return f"{host}/{schema}"
    if host:
        return host
    if schema:
        return schema if schema.startswith("/") else "/" + schema
    return ":memory:"


def _sqlite_url(conn: ConnectionFields, database: str | None, extra: Mapping[str, Any]) -> URL:
    path = sqlite_path(conn, database)
    options = _options(extra, SQLITE_EXTRA_OPTIONS)
    if path == ":memory:":
        return URL.create("sqlite")
    if not options:
        return URL.create("sqlite", database=path)
    # URI parameters such as mode=ro need SQLite's own file: URI form.
    return URL.create("sqlite", database=f"file:{path}", query={**options, "uri": "true"})


def mysql_driver(conn: ConnectionFields, extra: Mapping[str, Any], driver_available: Any) -> str:
    """The SQLAlchemy driver name for a MySQL connection: the extra's ``client`` if it names one,
    else the first installed of mysqlclient and PyMySQL; a clear error naming them otherwise."""
    client = str(extra.get("client") or "").strip().lower()
    if client:
        if client not in MYSQL_CLIENTS:
            raise SqlConnectionError(
                f"connection {conn.conn_id!r}: unknown MySQL client {client!r} in its extra; "
                f"use one of {', '.join(MYSQL_CLIENTS)}"
            )
        candidates = [client]
    else:
        candidates = ["mysqlclient", "pymysql"]
    for name in candidates:
        module, driver, _ = MYSQL_CLIENTS[name]
        if driver_available(module):
            return driver
    wanted = " or ".join(MYSQL_CLIENTS[name][2] for name in candidates)
    raise SqlConnectionError(
        f"connection {conn.conn_id!r} is a MySQL connection but no MySQL driver is installed; "
        f"install {wanted} on the workers"
    )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _extra(conn: ConnectionFields) -> Mapping[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    return extra if isinstance(extra, Mapping) else {}


def _options(extra: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: _text(extra[name]) for name in names if extra.get(name) not in (None, "")}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
