"""``Variable``: named values task code and DAG files read at run time, with Airflow's API.

``Variable.get`` asks the secrets backend, then the environment (``TRADEWIND_VAR_<KEY>`` or
``AIRFLOW_VAR_<KEY>``), then the metastore; ``set``, ``update`` and ``delete`` change the metastore. The value of a
variable whose key looks secret (``password``, ``api_key``, ``token``…) is masked in task logs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tradewind.sdk import runtime_services

_LOG = logging.getLogger("tradewind.task.variable")


class _NoDefault:
    def __repr__(self) -> str:
        return "<no default>"


_NO_DEFAULT: Any = _NoDefault()


class Variable:
    """A key, its value (text) and an optional description."""

    def __init__(self, key: str | None = None, val: str | None = None, description: str | None = None) -> None:
        self.key = key
        self.val = val
        self.description = description

    def __repr__(self) -> str:
        return f"Variable(key={self.key!r})"

    @classmethod
    def get(cls, key: str, default_var: Any = _NO_DEFAULT, deserialize_json: bool = False) -> Any:
        """The variable's value (decoded from JSON when ``deserialize_json``); ``default_var`` when it
        is not defined, or ``KeyError`` naming the key when no default is given."""
        value = cls.get_variable_from_secrets(key)
        if value is None:
            if default_var is not _NO_DEFAULT:
                return default_var
            raise KeyError(f"Variable {key} does not exist")
        if not deserialize_json:
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"Variable {key} is not valid JSON ({exc})") from None

    @classmethod
    def get_variable_from_secrets(cls, key: str) -> str | None:
        """The value from the secrets backend, the environment or the metastore, or ``None``."""
        return runtime_services.current().get_variable(key)

    @classmethod
    def set(cls, key: str, value: Any, description: str | None = None, serialize_json: bool = False) -> None:
        """Create or change the variable in the metastore (as JSON when ``serialize_json``)."""
        services = runtime_services.current()
        if services.variable_outside_metastore(key) is not None:
            _LOG.warning(
                "Variable %s is also defined in the secrets backend or the environment, which win when it is read", key
            )
        text = json.dumps(value, indent=2) if serialize_json else str(value)
        services.set_variable(key, text, description)

    @classmethod
    def setdefault(cls, key: str, default: Any, description: str | None = None, deserialize_json: bool = False) -> Any:
        """The value when the variable exists; otherwise store ``default`` and return it."""
        value = cls.get(key, default_var=None, deserialize_json=deserialize_json)
        if value is not None:
            return value
        if default is None:
            raise ValueError("Default Value must be set")
        cls.set(key, default, description=description, serialize_json=deserialize_json)
        return default

    @classmethod
    def update(cls, key: str, value: Any, serialize_json: bool = False) -> None:
        """Change an existing variable; ``KeyError`` when it does not exist."""
        if cls.get_variable_from_secrets(key) is None:
            raise KeyError(f"Variable {key} does not exist")
        cls.set(key, value, serialize_json=serialize_json)

    @classmethod
    def delete(cls, key: str) -> int:
        """Delete the variable from the metastore; the number of variables deleted (0 or 1)."""
        return 1 if runtime_services.current().delete_variable(key) else 0
