"""``/api/v1/variables`` (Admin for every call: values may be secrets): list, read, create,
change and delete; values of secret-looking keys are answered as ``***``. The routes are every
keyed resource's (``keyed_resources``); a variable's own are its JSON, the fields a body may hold,
and its schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tradewind.master.webserver import masking
from tradewind.master.webserver.api.keyed_resources import KeyedResource, blueprint, openapi_paths
from tradewind.master.webserver.api.spec import collection, obj, string
from tradewind.metastore import variables
from tradewind.metastore.variables import VariableValue


def _save(session: Session, key: str, form: dict[str, Any]) -> VariableValue:
    value, description = form.get("value"), form.get("description")
    if not isinstance(value, str):
        raise ValueError("a variable needs a value (a string)")
    return variables.set_variable(session, key, value, description)


def variable_json(variable: VariableValue) -> dict[str, Any]:
    return {
        "key": variable.key,
        "value": masking.variable_value(variable.key, variable.value),
        "description": variable.description,
    }


RESOURCE: KeyedResource[VariableValue] = KeyedResource(
    rows=variables.ROWS,
    body_key="key",
    path_key="variable_key",
    save=_save,
    to_json=variable_json,
    schema="Variable",
    create_conflicts=False,
)
bp = blueprint(__name__, RESOURCE)


OPENAPI_SCHEMAS: dict[str, Any] = {
    "Variable": obj(
        {
            "key": string(),
            "value": string(
                description="*** when the key looks secret (password, secret, token, api_key, private_key…)."
            ),
            "description": string(nullable=True),
        }
    ),
    "VariableCollection": collection("variables", "Variable"),
}

OPENAPI_PATHS: dict[str, Any] = openapi_paths(
    RESOURCE,
    why_admin="variables may hold secrets",
    listed="List variables, secret values masked.",
    change="Change a variable's value or description.",
)
