"""The REST API under ``/api/v1``: JSON in and out, errors as ``{"title", "detail", "status"}``.

One blueprint per resource, each in its own module with ``bp`` (its ``url_prefix`` under
``API_PREFIX``), its views, and ``OPENAPI_PATHS`` (plus ``OPENAPI_SCHEMAS`` if it has any) describing
them; ``openapi.py`` gathers those from every registered blueprint into ``/api/v1/openapi.json``.
The views call the same metastore functions as the pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, request

from tradewind.metastore.column_limits import INT32

API_PREFIX = "/api/v1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def query_int(name: str, default: int, *, minimum: int = 0, maximum: int = INT32[1]) -> int:
    """An integer query parameter; 400 when it is not a whole number from ``minimum`` to ``maximum``
    (by default the largest number a metastore integer column holds)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if len(raw) > 30:
        abort(400, description=f"{name} must be a whole number between {minimum} and {maximum}, not {raw[:30]!r}…")
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"{name} must be a whole number, not {raw!r}")
    if not minimum <= value <= maximum:
        abort(400, description=f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def query_datetime(name: str) -> datetime | None:
    """An ISO 8601 date-time query parameter with its time zone (None when absent); 400 otherwise."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"{name} must be an ISO 8601 date and time, not {raw[:80]!r}")
    if value.tzinfo is None:
        abort(400, description=f"{name} must say its time zone, e.g. {value.isoformat()}+00:00, not {raw!r}")
    return value


def query_bool(name: str) -> bool | None:
    """``true`` / ``false`` (None when absent); 400 for anything else."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        abort(400, description=f"{name} must be true or false, not {raw!r}")
    return raw.lower() == "true"


def page_args() -> tuple[int, int]:
    """(limit, offset) from the query string."""
    return query_int("limit", DEFAULT_LIMIT, maximum=MAX_LIMIT), query_int("offset", 0)


def json_object() -> dict[str, Any]:
    """The request body, which must be a JSON object; 400 otherwise."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="The request body must be a JSON object (Content-Type: application/json).")
    return body


#: OpenAPI parameters and responses the resource modules refer to.
LIMIT_PARAMETER = {
    "name": "limit",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
}
OFFSET_PARAMETER = {
    "name": "offset",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 0, "default": 0},
}


def problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def json_response(description: str, schema_name: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }
