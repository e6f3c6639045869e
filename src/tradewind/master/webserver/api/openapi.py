"""``/api/v1/openapi.json``: an OpenAPI 3.0 document gathered from the API blueprints' modules.

Each API module's ``OPENAPI_PATHS`` and ``OPENAPI_SCHEMAS`` are merged under the shared parts
below, so a new resource documents itself by defining them next to its views.
"""

from __future__ import annotations

import sys
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.spec import free_object, integer, obj, operation, string
from tradewind.master.webserver.auth import SESSION_COOKIE_NAME
from tradewind.version import __version__

bp = Blueprint("api_openapi", __name__, url_prefix=API_PREFIX)

_SHARED_SCHEMAS: dict[str, Any] = {
    "Problem": obj(
        {
            "title": string(description="The HTTP status's name, e.g. Not Found."),
            "detail": string(description="What went wrong, for a person to read."),
            "status": integer(),
        },
        required=("title", "detail", "status"),
    ),
}


@bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return jsonify(build_document(current_app))


def build_document(app: Flask) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = dict(_SHARED_SCHEMAS)
    for blueprint in app.blueprints.values():
        module = sys.modules.get(blueprint.import_name)
        paths.update(getattr(module, "OPENAPI_PATHS", {}))
        schemas.update(getattr(module, "OPENAPI_SCHEMAS", {}))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "tradewind REST API",
            "version": __version__,
            "description": (
                "Monitor and steer tradewind DAGs. Authenticate with HTTP basic auth, an API token "
                "(`tradewind users create … --token`, sent as `Authorization: Bearer <token>`), or a "
                "browser session (which must send its CSRF token in `X-CSRFToken` on writes). "
                'Errors are `{"title", "detail", "status"}`.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"basicAuth": []}, {"bearerAuth": []}, {"sessionCookie": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic"},
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE_NAME},
            },
        },
    }


OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/openapi.json": {
        "get": operation(
            "get_openapi_document",
            "This document (OpenAPI 3.0)",
            "Monitoring",
            ok=free_object(description="An OpenAPI 3.0 document."),
            ok_description="The OpenAPI document.",
        ),
    }
}
