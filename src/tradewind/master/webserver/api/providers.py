"""``/api/v1/providers`` and ``/api/v1/plugins``: the Airflow provider packages whose modules
tradewind serves itself (``compat.providers``, as ``tradewind providers list`` shows them), and the
plugins (none are loaded)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from tradewind.compat.providers import served_providers
from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.spec import PAGE, array, collection, free_object, obj, operation, string

bp = Blueprint("api_providers", __name__, url_prefix=API_PREFIX)


@bp.get("/providers")
def get_providers() -> ResponseReturnValue:
    found = [asdict(provider) for provider in served_providers()]
    return jsonify(providers=found, total_entries=len(found))


@bp.get("/plugins")
def get_plugins() -> ResponseReturnValue:
    return jsonify(plugins=[], total_entries=0)


_NAMES = array(string(nullable=True))
OPENAPI_SCHEMAS: dict[str, Any] = {
    "Provider": obj({"package_name": string(), "description": string(), "version": string()}),
    "ProviderCollection": collection("providers", "Provider"),
    "PluginCollectionItem": obj(
        {
            "name": string(),
            "hooks": _NAMES,
            "executors": _NAMES,
            "macros": _NAMES,
            "flask_blueprints": _NAMES,
            "appbuilder_views": array(free_object(nullable=True)),
            "appbuilder_menu_items": array(free_object(nullable=True)),
            "global_operator_extra_links": _NAMES,
            "operator_extra_links": _NAMES,
            "source": string(nullable=True),
            "ti_deps": array(string()),
            "listeners": array(string()),
            "timetables": array(string()),
        }
    ),
    "PluginCollection": collection("plugins", "PluginCollectionItem"),
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/providers": {
        "get": operation(
            "get_providers", "The provider packages tradewind serves itself", "Provider", ok="ProviderCollection"
        )
    },
    f"{API_PREFIX}/plugins": {
        "get": operation("get_plugins", "Plugins (none)", "Plugin", ok="PluginCollection", params=PAGE)
    },
}
