"""``/api/v1/config`` (Admin): tradewind's settings, as Airflow's configuration document. They are
one section, ``tradewind``, whose options are the settings' names (``database_url`` is
``TRADEWIND_DATABASE_URL``); secrets (keys, passwords in URLs, secrets-backend arguments) read
``< hidden >``, as Airflow hides its sensitive options."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from flask import Blueprint, Response, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.dag_sources import wants_json
from tradewind.master.webserver.api.request_check import arg
from tradewind.master.webserver.api.spec import (
    FORBIDDEN,
    NOT_FOUND,
    array,
    obj,
    operation,
    path_param,
    query_param,
    string,
)
from tradewind.master.webserver.auth import require_role
from tradewind.master.webserver.db import get_settings
from tradewind.redaction import redact
from tradewind.settings import Settings

bp = Blueprint("api_config", __name__, url_prefix=f"{API_PREFIX}/config")

SECTION = "tradewind"
HIDDEN = "< hidden >"
_SECRET = frozenset({"secret_key", "fernet_key", "secrets_backend_kwargs"})
_URLS = frozenset({"database_url", "broker_url"})


def options(settings: Settings) -> list[tuple[str, str]]:
    """(option, value as text) of every setting, secrets hidden."""
    found = []
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is None:
            text = ""
        elif f.name in _SECRET:
            text = HIDDEN
        elif f.name in _URLS:
            text = redact(str(value))
        else:
            text = str(value).lower() if isinstance(value, bool) else str(value)
        found.append((f.name, text))
    return found


def _answer(sections: list[dict[str, Any]]) -> ResponseReturnValue:
    if wants_json():
        return jsonify(sections=sections)
    lines = []
    for section in sections:
        lines.append(f"[{section['name']}]")
        lines.extend(f"{o['key']} = {o['value']}" for o in section["options"])
        lines.append("")
    return Response("\n".join(lines), mimetype="text/plain")


@bp.get("")
@require_role("Admin")
def get_config() -> ResponseReturnValue:
    section = arg("section")
    if section is not None and section != SECTION:
        abort(404, description=f"no configuration section {section!r}; tradewind has one: {SECTION}")
    return _answer([{"name": SECTION, "options": [{"key": k, "value": v} for k, v in options(get_settings())]}])


@bp.get("/section/<section>/option/<option>")
@require_role("Admin")
def get_value(section: str, option: str) -> ResponseReturnValue:
    found = dict(options(get_settings()))
    if section != SECTION or option not in found:
        abort(404, description=f"no configuration option {option!r} in section {section!r}")
    return _answer([{"name": SECTION, "options": [{"key": option, "value": found[option]}]}])


OPENAPI_SCHEMAS: dict[str, Any] = {
    "ConfigOption": obj({"key": string(read_only=True), "value": string(read_only=True)}),
    "ConfigSection": obj(
        {"name": string(read_only=True), "options": array({"$ref": "#/components/schemas/ConfigOption"})}
    ),
    "Config": obj({"sections": array({"$ref": "#/components/schemas/ConfigSection"})}),
}

_ERRORS = (FORBIDDEN, NOT_FOUND)
OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/config": {
        "get": operation(
            "get_config",
            "tradewind's settings, secrets hidden (Admin)",
            "Config",
            ok="Config",
            text=True,
            params=(query_param("section", string(), description=f"Only this section (tradewind has {SECTION})."),),
            errors=_ERRORS,
        )
    },
    f"{API_PREFIX}/config/section/{{section}}/option/{{option}}": {
        "parameters": [path_param("section"), path_param("option")],
        "get": operation("get_value", "One setting (Admin)", "Config", ok="Config", text=True, errors=_ERRORS),
    },
}
