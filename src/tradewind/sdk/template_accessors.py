"""``var`` and ``conn`` in templates, as in Airflow: ``{{ var.value.key }}``, ``{{ var.json.key.field }}``,
``{{ var.value.get('key', 'default') }}``, ``{{ conn.my_id.host }}``, ``{{ conn.get('my_id') }}``.

Nothing is looked up until a template asks, so building a context stays free of I/O.
"""

from __future__ import annotations

from typing import Any

from tradewind.sdk.connection import Connection
from tradewind.sdk.variable import _NO_DEFAULT, Variable


class VariableAccessor:
    """Variables by attribute or item; ``deserialize_json`` decodes each value as JSON."""

    def __init__(self, deserialize_json: bool) -> None:
        self._deserialize_json = deserialize_json

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return Variable.get(key, deserialize_json=self._deserialize_json)

    def __getitem__(self, key: str) -> Any:
        return Variable.get(key, deserialize_json=self._deserialize_json)

    def get(self, key: str, default_var: Any = _NO_DEFAULT) -> Any:
        return Variable.get(key, default_var=default_var, deserialize_json=self._deserialize_json)

    def __repr__(self) -> str:
        return f"<variables as {'JSON' if self._deserialize_json else 'text'}>"


class VariableAccessors:
    """The ``var`` of a template: ``var.value`` gives text, ``var.json`` decoded JSON."""

    def __init__(self) -> None:
        self.value = VariableAccessor(deserialize_json=False)
        self.json = VariableAccessor(deserialize_json=True)

    def __repr__(self) -> str:
        return "<var: var.value.<key>, var.json.<key>>"


class ConnectionAccessor:
    """The ``conn`` of a template: connections by id, as attribute, item or ``get``."""

    def __getattr__(self, conn_id: str) -> Connection:
        if conn_id.startswith("__"):
            raise AttributeError(conn_id)
        return Connection.get_connection_from_secrets(conn_id)

    def __getitem__(self, conn_id: str) -> Connection:
        return Connection.get_connection_from_secrets(conn_id)

    def get(self, conn_id: str, default_conn: Any = None) -> Any:
        from tradewind.errors import AirflowNotFoundException

        try:
            return Connection.get_connection_from_secrets(conn_id)
        except AirflowNotFoundException:
            return default_conn

    def __repr__(self) -> str:
        return "<conn: conn.<conn_id>>"
