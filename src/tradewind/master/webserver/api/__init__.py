"""The REST API under ``/api/v1``: Airflow 2.10's stable API (names, types, defaults, status codes),
so its official client and the tools built on it work unchanged. Errors are problem JSON
``{"title", "detail", "status"}``.

One blueprint per resource, each in its own module with ``bp`` (its ``url_prefix`` under
``API_PREFIX``), its views, and ``OPENAPI_PATHS`` / ``OPENAPI_SCHEMAS`` describing them (built with
``spec``); ``openapi.py`` gathers those into ``/api/v1/openapi.json`` and ``request_check`` admits
only what they declare. The views call the same metastore functions and actions as the pages.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, request

API_PREFIX = "/api/v1"


def query_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """An integer query parameter of a page (the API's are checked by ``request_check``); 400 when
    it is not a whole number in range."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"{name} must be a whole number, not {raw!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        abort(400, description=f"{name} must be {bounds}, not {value}")
    return value


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
