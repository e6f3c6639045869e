"""``/api/v1/variables`` (Admin for every call: values may be secrets): list, read, create,
change and delete; values of secret-looking keys are answered as ``***``. The routes are every
keyed resource's (``keyed_resources``); a variable's own are its JSON, the fields a body may hold,
and its schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tradewind.master.webserver import masking
from tradewind.master.webserver.api.keyed_resources import KeyedResource, blueprint, openapi_paths, openapi_schemas
from tradewind.metastore import variables
from tradewind.metastore.variables import VariableValue


def _save(session: Session, key: str, body: dict[str, Any]) -> VariableValue:
    unknown = sorted(set(body) - {"value", "description"})
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    value, description = body.get("value"), body.get("description")
    if not isinstance(value, str):
        raise ValueError("value must be a string")
    if description is not None and not isinstance(description, str):
        raise ValueError("description must be a string")
    return variables.set_variable(session, key, value, description)


def variable_json(variable: VariableValue) -> dict[str, Any]:
    return {
        "key": variable.key,
        "value": masking.variable_value(variable.key, variable.value),
        "description": variable.description,
    }


RESOURCE: KeyedResource[VariableValue] = KeyedResource(rows=variables.ROWS, save=_save, to_json=variable_json)
bp = blueprint(__name__, RESOURCE)


OPENAPI_SCHEMAS: dict[str, Any] = openapi_schemas(
    RESOURCE,
    {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "value": {
                "type": "string",
                "description": "*** when the key looks secret (password, secret, token, "
                "key, passwd, api_key, private, credential).",
            },
            "description": {"type": "string", "nullable": True},
        },
    },
)

OPENAPI_PATHS: dict[str, Any] = openapi_paths(
    RESOURCE,
    why_admin="variables may hold secrets",
    listed="Variables, secret values masked.",
    change="Change a variable's value or description.",
)
