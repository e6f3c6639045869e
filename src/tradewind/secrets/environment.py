"""Connections and variables defined by environment variables, looked up before the metastore.

``TRADEWIND_CONN_<ID>`` (or Airflow's ``AIRFLOW_CONN_<ID>``) holds a connection as a URI or as
JSON; ``TRADEWIND_VAR_<KEY>`` (or ``AIRFLOW_VAR_<KEY>``) holds a variable's value. The id or key is
upper-cased; the ``TRADEWIND_`` name wins when both are set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tradewind.sdk.connection import Connection

CONNECTION_PREFIXES: tuple[str, ...] = ("TRADEWIND_CONN_", "AIRFLOW_CONN_")
VARIABLE_PREFIXES: tuple[str, ...] = ("TRADEWIND_VAR_", "AIRFLOW_VAR_")


def connection_from_env(conn_id: str, environ: Mapping[str, str] | None = None) -> Connection | None:
    """The connection the environment defines for ``conn_id``, or ``None``."""
    value = _first(CONNECTION_PREFIXES, conn_id, environ)
    if value is None:
        return None
    return parse_connection(conn_id, value)


def variable_from_env(key: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value the environment defines for variable ``key``, or ``None``."""
    return _first(VARIABLE_PREFIXES, key, environ)


def parse_connection(conn_id: str, value: str) -> Connection:
    """A connection from its environment form: JSON when it starts with ``{``, a URI otherwise."""
    text = value.strip()
    if text.startswith("{"):
        return Connection.from_json(text, conn_id=conn_id)
    return Connection(conn_id=conn_id, uri=text)


def _first(prefixes: tuple[str, ...], name: str, environ: Mapping[str, str] | None) -> str | None:
    env = os.environ if environ is None else environ
    for prefix in prefixes:
        value = env.get(prefix + name.upper())
        if value is not None:
            return value
    return None
