"""The lookup order for connections and variables, as in Airflow: environment, then metastore.

A secret variable's value is registered with the process's secrets masker before it is returned (a
``Connection`` registers its own password), so neither shows in the task's log.
"""

from __future__ import annotations

from tradewind.errors import AirflowNotFoundException, ConnectionNotFound, VariableNotFound
from tradewind.sdk.connection import Connection
from tradewind.secrets import environment
from tradewind.secrets.masker import mask_secret, should_hide_value_for_key


def find_connection(conn_id: str) -> Connection:
    """The connection ``conn_id``; raises ``AirflowNotFoundException`` naming it when it is not defined."""
    connection = environment.connection_from_env(conn_id) or _connection_from_metastore(conn_id)
    if connection is None:
        raise AirflowNotFoundException(
            f"The conn_id `{conn_id}` isn't defined: add it with `tradewind connections add {conn_id} ...` "
            f"or set {environment.CONNECTION_PREFIXES[0]}{conn_id.upper()}"
        )
    return connection


def find_variable(key: str) -> str | None:
    """The value of variable ``key``, or ``None`` when it is not defined."""
    value = environment.variable_from_env(key)
    if value is None:
        value = _variable_from_metastore(key)
    if value is not None and should_hide_value_for_key(key):
        mask_secret(value)
    return value


def _connection_from_metastore(conn_id: str) -> Connection | None:
    from tradewind.metastore import connections
    from tradewind.sdk.task_metastore import task_session

    with task_session() as session:
        try:
            stored = connections.get_connection(session, conn_id)
        except ConnectionNotFound:
            return None
    return Connection(
        conn_id=stored.conn_id, conn_type=stored.conn_type, description=stored.description, host=stored.host,
        login=stored.login, password=stored.password, schema=stored.schema, port=stored.port, extra=stored.extra,
    )


def _variable_from_metastore(key: str) -> str | None:
    from tradewind.metastore import variables
    from tradewind.sdk.task_metastore import task_session

    with task_session() as session:
        try:
            return variables.get_variable(session, key).value
        except VariableNotFound:
            return None
