"""The REST API under ``/api/v1``: Airflow 2.10's stable API (names, types, defaults, status codes),
so its official client and the tools built on it work unchanged. Errors are problem JSON
``{"title", "detail", "status"}``.

One blueprint per resource, each in its own module with ``bp`` (its ``url_prefix`` under
``API_PREFIX``), its views, and ``OPENAPI_PATHS`` / ``OPENAPI_SCHEMAS`` describing them (built with
``spec``); ``openapi.py`` gathers those into ``/api/v1/openapi.json`` and ``request_check`` admits
only what they declare. The views call the same metastore functions and actions as the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask import abort, request

from tradewind.metastore.column_limits import INT32

API_PREFIX = "/api/v1"


def query_choice(name: str, allowed: Sequence[str]) -> str | None:
    """A query parameter that must be one of ``allowed`` (empty or absent: None); 400 otherwise."""
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        abort(400, description=f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def query_int(name: str, default: int, *, minimum: int = 0, maximum: int = INT32[1]) -> int:
    """An integer query parameter of a page (the API's are checked by ``request_check``); 400 when it
    is not a whole number from ``minimum`` to ``maximum`` (by default the largest number a metastore
    integer column holds)."""
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


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
