"""``BaseHook``: the base of every hook, as ``airflow.hooks.base.BaseHook``.

A hook wraps one kind of external system; ``get_connection`` finds the connection it is pointed at
(environment first, then the metastore), and subclasses build their client in ``get_conn``.
"""

from __future__ import annotations

import logging
from typing import Any

from tradewind.sdk.connection import Connection

_LOG = logging.getLogger("tradewind.task.hooks")


class BaseHook:
    """Subclasses set ``conn_name_attr``, ``default_conn_name``, ``conn_type`` and ``hook_name``
    (Airflow's class attributes) and implement ``get_conn``."""

    conn_name_attr: str = "conn_id"
    default_conn_name: str = "default_conn_id"
    conn_type: str = ""
    hook_name: str = ""

    def __init__(self, logger_name: str | None = None) -> None:
        self._logger_name = logger_name

    @property
    def log(self) -> logging.Logger:
        """The hook's logger; its records go to the task's log (with secrets masked)."""
        cls = type(self)
        name = self._logger_name or f"{cls.__module__}.{cls.__name__}"
        return logging.getLogger(f"tradewind.task.hooks.{name}")

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection named ``conn_id``; raises ``AirflowNotFoundException`` when it is not defined."""
        connection = Connection.get_connection_from_secrets(conn_id)
        _LOG.info("Using connection ID '%s' for task execution.", connection.conn_id)
        return connection

    def get_conn(self) -> Any:
        """The client or connection object of the external system."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_conn()")

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields the connection form shows for this hook's type (none by default)."""
        return {}

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """How the connection form relabels or hides fields for this hook's type (no change by default)."""
        return {}
