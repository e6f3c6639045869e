"""The lookup order for connections and variables, as in Airflow: the configured secrets backend
(``TRADEWIND_SECRETS_BACKEND``, if any), then the environment, then the metastore (read through the
session opener the caller passes).

A secret variable's value is registered with the process's secrets masker before it is returned (a
``Connection`` registers its own password), so neither shows in the task's log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, TypeVar

from tradewind.errors import AirflowNotFoundException, ConfigurationError, ConnectionNotFound, VariableNotFound
from tradewind.sdk.connection import Connection
from tradewind.secrets import environment
from tradewind.secrets.backend import BaseSecretsBackend, configured_backend
from tradewind.secrets.masker import mask_secret, should_hide_value_for_key
from tradewind.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_LOG = logging.getLogger("tradewind.task.secrets")
T = TypeVar("T")
#: Opens a metastore session that commits when its block ends cleanly.
SessionOpener = Callable[[], AbstractContextManager["Session"]]


def find_connection(conn_id: str, settings: Settings, session: SessionOpener) -> Connection:
    """The connection ``conn_id``; raises ``AirflowNotFoundException`` naming it when it is not defined."""
    return find_connection_via(conn_id, settings, lambda name: connection_from_metastore(name, session))


def find_connection_via(
    conn_id: str, settings: Settings, from_metastore: Callable[[str], Connection | None]
) -> Connection:
    """``find_connection`` with the metastore read by ``from_metastore`` (a task's process asks its
    worker; the backend and the environment are its own, read here)."""
    connection = connection_outside_metastore(conn_id, settings) or from_metastore(conn_id)
    if connection is None:
        raise AirflowNotFoundException(
            f"The conn_id `{conn_id}` isn't defined: add it with `tradewind connections add {conn_id} ...` "
            f"or set {environment.CONNECTION_PREFIXES[0]}{conn_id.upper()}"
        )
    return connection


def find_variable(key: str, settings: Settings, session: SessionOpener) -> str | None:
    """The value of variable ``key``, or ``None`` when it is not defined."""
    return find_variable_via(key, settings, lambda name: variable_from_metastore(name, session))


def find_variable_via(key: str, settings: Settings, from_metastore: Callable[[str], str | None]) -> str | None:
    """``find_variable`` with the metastore read by ``from_metastore`` (see ``find_connection_via``)."""
    value = variable_outside_metastore(key, settings)
    if value is None:
        value = from_metastore(key)
    mask_if_secret(key, value)
    return value


def mask_if_secret(key: str, value: str | None) -> None:
    """Register the value of variable ``key`` with this process's secrets masker when its name says
    it is secret (a process that reads a variable through another does this itself)."""
    if value is not None and should_hide_value_for_key(key):
        mask_secret(value)


def connection_outside_metastore(conn_id: str, settings: Settings) -> Connection | None:
    """The connection from the secrets backend or the environment, or ``None``."""
    return _from_backend(
        settings, "connection", conn_id, lambda backend: backend.get_connection(conn_id)
    ) or environment.connection_from_env(conn_id)


def variable_outside_metastore(key: str, settings: Settings) -> str | None:
    """The variable's value from the secrets backend or the environment, or ``None``."""
    value = _from_backend(settings, "variable", key, lambda backend: backend.get_variable(key))
    return value if value is not None else environment.variable_from_env(key)


def _from_backend(settings: Settings, kind: str, name: str, ask: Callable[[BaseSecretsBackend], T | None]) -> T | None:
    """What the configured backend holds; a backend that fails is logged and skipped, as in Airflow."""
    backend = configured_backend(settings.secrets_backend, settings.secrets_backend_kwargs)
    if backend is None:
        return None
    try:
        return ask(backend)
    except ConfigurationError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken backend must not hide the environment and metastore
        _LOG.warning(
            "Unable to retrieve %s %r from secrets backend %s (%s); checking the environment and the metastore",
            kind,
            name,
            type(backend).__name__,
            exc,
        )
        return None


def connection_from_metastore(conn_id: str, session_opener: SessionOpener) -> Connection | None:
    """The connection as the metastore holds it, or ``None``."""
    from tradewind.metastore import connections

    with session_opener() as session:
        try:
            stored = connections.get_connection(session, conn_id)
        except ConnectionNotFound:
            return None
    return Connection(
        conn_id=stored.conn_id,
        conn_type=stored.conn_type,
        description=stored.description,
        host=stored.host,
        login=stored.login,
        password=stored.password,
        schema=stored.schema,
        port=stored.port,
        extra=stored.extra,
    )


def variable_from_metastore(key: str, session_opener: SessionOpener) -> str | None:
    """The variable's value as the metastore holds it, or ``None``."""
    from tradewind.metastore import variables

    with session_opener() as session:
        try:
            return variables.get_variable(session, key).value
        except VariableNotFound:
            return None
