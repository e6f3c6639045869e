"""The hooks tradewind serves, by connection type: what the connection form offers as types, how
it relabels and hides fields for each (Airflow's ``get_ui_field_behaviour``), and testing a
connection that may not be saved yet with its type's hook (Airflow's "Test" button)."""

from __future__ import annotations

from typing import Any

from tradewind.sdk.connection import Connection
from tradewind.sdk.hooks.base import BaseHook


def hook_classes() -> dict[str, type[BaseHook]]:
    """Connection type -> the hook class for it, in the form's order."""
    from tradewind.sdk.hooks.http import HttpHook
    from tradewind.sdk.hooks.mysql import MySqlHook
    from tradewind.sdk.hooks.postgres import PostgresHook
    from tradewind.sdk.hooks.smtp import SmtpHook
    from tradewind.sdk.hooks.sqlite import SqliteHook

    return {
        "http": HttpHook,
        "mysql": MySqlHook,
        "postgres": PostgresHook,
        "smtp": SmtpHook,
        "sqlite": SqliteHook,
    }


def connection_types() -> list[tuple[str, str]]:
    """(conn_type, the name the form shows) for every served hook, sorted by that name."""
    named = [(conn_type, cls.hook_name or conn_type) for conn_type, cls in hook_classes().items()]
    return sorted(named, key=lambda item: item[1].lower())


def field_behaviours() -> dict[str, dict[str, Any]]:
    """conn_type -> ``{"hidden_fields": [...], "relabeling": {...}, "placeholders": {...}}``."""
    return {conn_type: cls.get_ui_field_behaviour() for conn_type, cls in hook_classes().items()}


def test_connection(connection: Connection) -> tuple[bool, str]:
    """Connect with ``connection`` (saved or not) through its type's hook: (worked, message)."""
    conn_type = (connection.conn_type or "").lower()
    if conn_type == "postgresql":
        conn_type = "postgres"
    hook_class = hook_classes().get(conn_type)
    if hook_class is None:
        return False, f"tradewind has no hook for connection type {connection.conn_type!r}"
    if not callable(getattr(hook_class, "test_connection", None)):
        return False, f"{hook_class.__name__} cannot test a connection"
    try:
        hook = hook_class(**{hook_class.conn_name_attr: connection.conn_id})
    except TypeError as exc:
        return False, str(exc)
    # The hook reads this connection instead of looking one up: it may not be saved yet.
    hook.connection = connection  # type: ignore[attr-defined]
    hook.get_connection = lambda conn_id: connection  # type: ignore[method-assign]
    result: tuple[bool, str] = hook.test_connection()  # type: ignore[attr-defined]
    return result
