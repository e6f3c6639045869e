"""Secrets backends: other places connections and variables can come from, asked first.

``BaseSecretsBackend`` has the methods Airflow's ``airflow.secrets.BaseSecretsBackend`` has, so a
backend class written for Airflow (a vault, a cloud secret manager) works once it is installed and
named in ``TRADEWIND_SECRETS_BACKEND``, with its keyword arguments as JSON in
``TRADEWIND_SECRETS_BACKEND_KWARGS``.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from tradewind.errors import ConfigurationError, NotAJsonObject
from tradewind.sdk.connection import Connection
from tradewind.sdk.json_object import parse_json_object


class BaseSecretsBackend:
    """Subclasses implement ``get_conn_value`` (a URI or JSON text) and ``get_variable``; each returns
    ``None`` for a name the backend does not hold."""

    def __init__(self, **kwargs: Any) -> None:
        pass

    @staticmethod
    def build_path(path_prefix: str, secret_id: str, sep: str = "/") -> str:
        """Airflow's helper: ``prefix/secret_id``."""
        return f"{path_prefix}{sep}{secret_id}"

    def get_conn_value(self, conn_id: str) -> str | None:
        raise NotImplementedError

    def deserialize_connection(self, conn_id: str, value: str) -> Connection:
        """A connection from its stored text: JSON when it starts with ``{``, a URI otherwise."""
        value = value.strip()
        if value.startswith("{"):
            return Connection.from_json(value, conn_id=conn_id)
        return Connection(conn_id=conn_id, uri=value)

    def get_connection(self, conn_id: str) -> Connection | None:
        value = self.get_conn_value(conn_id)
        return self.deserialize_connection(conn_id, value) if value else None

    def get_variable(self, key: str) -> str | None:
        raise NotImplementedError

    def get_config(self, key: str) -> str | None:
        return None


_lock = threading.Lock()
_loaded: dict[tuple[str, str], BaseSecretsBackend] = {}


def configured_backend(path: str, kwargs_json: str) -> BaseSecretsBackend | None:
    """The backend ``TRADEWIND_SECRETS_BACKEND`` names, built once per process (``None`` when unset)."""
    if not path.strip():
        return None
    key = (path.strip(), kwargs_json.strip())
    with _lock:
        if key not in _loaded:
            _loaded[key] = _build(*key)
        return _loaded[key]


def _build(path: str, kwargs_json: str) -> BaseSecretsBackend:
    module_name, _, class_name = path.rpartition(".")
    if module_name.split(".")[0] == "airflow":
        from tradewind.compat import airflow_shim

        airflow_shim.install()  # e.g. airflow.secrets.local_filesystem.LocalFilesystemBackend
    try:
        backend_class = getattr(importlib.import_module(module_name), class_name) if module_name else None
    except ImportError as exc:
        raise ConfigurationError(f"TRADEWIND_SECRETS_BACKEND={path!r} cannot be imported: {exc}") from None
    except AttributeError:
        backend_class = None
    if backend_class is None:
        raise ConfigurationError(f"TRADEWIND_SECRETS_BACKEND={path!r} names no class (use module.ClassName)")
    try:
        kwargs = parse_json_object(kwargs_json, "TRADEWIND_SECRETS_BACKEND_KWARGS") if kwargs_json else {}
    except NotAJsonObject as exc:
        raise ConfigurationError(str(exc)) from None
    try:
        return backend_class(**kwargs)
    except TypeError as exc:
        raise ConfigurationError(f"TRADEWIND_SECRETS_BACKEND {path}: {exc}") from None
