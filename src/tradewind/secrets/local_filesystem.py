"""``LocalFilesystemBackend``: connections and variables read from files, as Airflow's
``airflow.secrets.local_filesystem.LocalFilesystemBackend``.

Each file is JSON or, when its name ends in ``.env``, ``NAME=value`` lines (``#`` starts a comment):

- variables: ``{"key": "value", "other": {"any": "JSON"}}`` (a value that is not text is stored as JSON);
- connections: ``{"conn_id": "postgres://user:pass@host/db"}`` or ``{"conn_id": {"conn_type": ..., ...}}``;
  in a ``.env`` file each value is a URI or the JSON form.

The files are read at each lookup, so an edit applies to the next task without a restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tradewind.errors import AirflowException
from tradewind.sdk.connection import Connection
from tradewind.sdk.json_object import parse_json_object
from tradewind.secrets.backend import BaseSecretsBackend


class LocalFilesystemBackend(BaseSecretsBackend):
    def __init__(
        self, variables_file_path: str | None = None, connections_file_path: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.variables_file = variables_file_path
        self.connections_file = connections_file_path

    def get_variable(self, key: str) -> str | None:
        if not self.variables_file:
            return None
        value = _read(self.variables_file).get(key)
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value)

    def get_conn_value(self, conn_id: str) -> str | None:
        if not self.connections_file:
            return None
        value = _read(self.connections_file).get(conn_id)
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value)

    def get_connection(self, conn_id: str) -> Connection | None:
        if not self.connections_file:
            return None
        value = _read(self.connections_file).get(conn_id)
        if value is None:
            return None
        if isinstance(value, dict):
            return Connection.from_fields(conn_id, value)
        if isinstance(value, str):
            return self.deserialize_connection(conn_id, value)
        raise AirflowException(f"{self.connections_file}: connection {conn_id!r} must be a URI or an object of fields")


def _read(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AirflowException(f"secrets file {path} does not exist") from None
    except (OSError, UnicodeError) as exc:
        raise AirflowException(f"cannot read secrets file {path}: {exc}") from None
    if file.suffix == ".env":
        return _parse_env(path, text)
    if not text.strip():
        return {}
    # Bad JSON raises NotAJsonObject, an AirflowException like every other error of a secrets file.
    return parse_json_object(text, f"secrets file {path}", "must hold a JSON object")


def _parse_env(path: str, text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep or not name.strip():
            raise AirflowException(f"secrets file {path}, line {number}: expected NAME=value")
        if name.strip() in values:
            raise AirflowException(f"secrets file {path}, line {number}: {name.strip()} is defined twice")
        values[name.strip()] = value.strip()
    return values
