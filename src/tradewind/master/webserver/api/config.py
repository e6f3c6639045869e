"""``/api/v1/config`` (Admin): tradewind's settings as Airflow's configuration document, in the
sections ``tradewind config list`` shows (``tradewind.settings_sections``: ``[core]``,
``[database]``, ``[scheduler]``…), each option named as its setting (``database_url`` is
``TRADEWIND_DATABASE_URL``); secrets (keys, passwords in URLs, secrets-backend arguments) masked."""

from __future__ import annotations

import os
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
from tradewind.settings_sections import SECTIONS, ConfigOption, config_options

bp = Blueprint("api_config", __name__, url_prefix=f"{API_PREFIX}/config")


def _sections(options: list[ConfigOption]) -> list[dict[str, Any]]:
    by_section: dict[str, list[dict[str, str]]] = {}
    for option in options:
        by_section.setdefault(option.section, []).append({"key": option.name, "value": option.value})
    return [{"name": name, "options": found} for name, found in by_section.items()]


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
    if section is not None and section not in SECTIONS:
        abort(404, description=f"no configuration section {section!r}; tradewind has {', '.join(SECTIONS)}")
    options = config_options(get_settings(), os.environ)
    return _answer(_sections([o for o in options if section is None or o.section == section]))


@bp.get("/section/<section>/option/<option>")
@require_role("Admin")
def get_value(section: str, option: str) -> ResponseReturnValue:
    found = [o for o in config_options(get_settings(), os.environ) if o.section == section and o.name == option]
    if not found:
        abort(404, description=f"no configuration option {option!r} in section {section!r}")
    return _answer(_sections(found))


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
            params=(query_param("section", string(), description="Only this section."),),
            errors=_ERRORS,
        )
    },
    f"{API_PREFIX}/config/section/{{section}}/option/{{option}}": {
        "parameters": [path_param("section"), path_param("option")],
        "get": operation("get_value", "One setting (Admin)", "Config", ok="Config", text=True, errors=_ERRORS),
    },
}
