"""Checking every API request against the OpenAPI document before its view runs.

The operation a request reaches declares its query parameters and JSON body; a parameter or body
field it does not declare is a 400 naming it, a value of the wrong type or out of range a 400
saying which and why. What passes is parsed (integers, booleans, date-times, lists) with the
document's defaults filled in, and the view reads it with ``arg(name)`` and ``body()``: one place
says what an operation takes, so its views and its document cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, abort, current_app, g, request

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.auth import may_enter
from tradewind.metastore.column_limits import INT32

_EXTENSION = "tradewind.api_operations"
_RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

if TYPE_CHECKING:
    from jsonschema import Draft4Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

T = TypeVar("T")


def init_app(app: Flask) -> None:
    """Check API requests after the login check (so a stranger gets 401, not a 400)."""
    app.before_request(check_request)


def arg(name: str) -> Any:
    """A declared query parameter of this request, parsed; its default (or None) when not given."""
    args: dict[str, Any] = g.get("api_args", {})
    return args.get(name)


def body() -> dict[str, Any]:
    """This request's JSON body, checked against the operation's schema (``{}`` when optional and absent)."""
    found: dict[str, Any] = g.get("api_body", {})
    return found


def page_of(rows: Sequence[T]) -> list[T]:
    """The page of ``rows`` this request's ``limit`` and ``offset`` choose."""
    offset = arg("offset") or 0
    return list(rows[offset : offset + arg("limit")])


def requested_order(allowed: Collection[str], order: str | None = None) -> tuple[str, bool]:
    """The field this request orders by (``order_by``, or ``order`` when given) and whether it is
    descending (``-field``); 400 naming the choices when the field is not one of ``allowed``."""
    order = arg("order_by") if order is None else order
    field = order.lstrip("-")
    if field not in allowed:
        choices = ", ".join(allowed)
        abort(400, description=f"order_by must be one of {choices} (- before it: descending), not {order!r}")
    return field, order.startswith("-")


def sorted_page(rows: Sequence[dict[str, Any]], allowed: Collection[str]) -> list[dict[str, Any]]:
    """The page of ``rows`` (answers' JSON) this request chooses, in its ``order_by`` (a field of
    ``allowed``); rows without a value for the field come last."""
    field, descending = requested_order(allowed)
    present = sorted((r for r in rows if r[field] is not None), key=lambda r: r[field], reverse=descending)
    return page_of(present + [r for r in rows if r[field] is None])


def parse_timestamp(text: str, name: str) -> datetime:
    """An ISO 8601 date-time (a naive one is UTC); 400 naming ``name`` otherwise."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        abort(400, description=f"{name} must be an ISO 8601 date-time such as 2024-01-01T00:00:00Z, not {text!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def openapi_path(rule: str) -> str:
    """``/api/v1/dags/<dag_id>/x/<path:key>`` -> ``/api/v1/dags/{dag_id}/x/{key}``."""
    return _RULE_VARIABLE.sub(r"{\1}", rule)


def check_request() -> None:
    if not request.path.startswith(API_PREFIX) or request.url_rule is None:
        return
    found = _operations(current_app).get((openapi_path(request.url_rule.rule), request.method.lower()))
    if found is None or not may_enter(current_app.view_functions.get(request.endpoint or "")):
        # A user without the view's role gets its 403, never a word about what the request lacks.
        return
    operation, components = found
    parameters = operation.get("parameters", [])
    _check_path(parameters)
    g.api_args = _parse_query([p for p in parameters if p["in"] == "query"])
    if "requestBody" in operation:
        g.api_body = _parse_body(operation["requestBody"], components)


def _operations(app: Flask) -> dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]]:
    """(path, method) -> (operation with its path's parameters, the document's schemas), built once."""
    cached = app.extensions.get(_EXTENSION)
    if cached is None:
        from tradewind.master.webserver.api.openapi import build_document

        document = build_document(app)
        components = document["components"]["schemas"]
        cached = {}
        for path, item in document["paths"].items():
            shared = item.get("parameters", [])
            for method, operation in item.items():
                if method == "parameters":
                    continue
                merged = {**operation, "parameters": [*shared, *operation.get("parameters", [])]}
                cached[(path, method)] = (merged, components)
        app.extensions[_EXTENSION] = cached
    return cached  # type: ignore[no-any-return]


def _check_path(parameters: list[dict[str, Any]]) -> None:
    values = request.view_args or {}
    for param in parameters:
        if param["in"] == "path" and param["name"] in values:
            _parse_value(param["name"], str(values[param["name"]]), param["schema"])


def _parse_query(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    declared = {p["name"]: p["schema"] for p in parameters}
    unknown = sorted(set(request.args) - set(declared))
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        abort(400, description=f"unknown query parameter {', '.join(unknown)} (this operation takes: {allowed})")
    parsed: dict[str, Any] = {}
    for name, schema in declared.items():
        raw = request.args.getlist(name)
        if not raw:
            parsed[name] = schema.get("default")
        elif schema.get("type") == "array":
            values = [v for item in raw for v in (item.split(",") if schema.get("explode") is False else [item])]
            parsed[name] = [_parse_value(name, v, schema["items"]) for v in values if v != ""]
        elif len(raw) > 1:
            abort(400, description=f"{name} is given {len(raw)} times; it takes one value")
        elif raw[0] == "":
            parsed[name] = schema.get("default")
        else:
            parsed[name] = _parse_value(name, raw[0], schema)
    return parsed


def _parse_value(name: str, raw: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type", "string")
    value: Any = raw
    if kind == "integer":
        try:
            value = int(raw)
        except ValueError:
            abort(400, description=f"{name} must be a whole number, not {raw!r}")
    elif kind == "number":
        try:
            value = float(raw)
        except ValueError:
            abort(400, description=f"{name} must be a number, not {raw!r}")
    elif kind == "boolean":
        if raw.lower() not in ("true", "false"):
            abort(400, description=f"{name} must be true or false, not {raw!r}")
        value = raw.lower() == "true"
    elif schema.get("format") == "date-time":
        value = parse_timestamp(raw, name)
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(str(v) for v in schema["enum"] if v is not None)
        abort(400, description=f"{name} must be one of {choices}, not {raw!r}")
    _check_range(name, value, schema)
    return value


def _check_range(name: str, value: Any, schema: dict[str, Any]) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if schema.get("type") == "integer" and high is None:
        high = INT32[1]  # no count, id or offset is larger than a metastore integer column holds
    if low is not None and value < low:
        abort(400, description=f"{name} must be at least {low}, not {value}")
    if high is not None and value > high:
        abort(400, description=f"{name} must be at most {high}, not {value}")


def _parse_body(spec: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    raw = request.get_json(silent=True) if request.content_length or request.data else None
    if raw is None:
        if spec.get("required") or request.data:
            abort(400, description="The request body must be a JSON object (Content-Type: application/json).")
        return {}
    schema = to_json_schema(spec["content"]["application/json"]["schema"], components, writing=True)
    if not isinstance(raw, dict):
        abort(400, description=f"The request body must be a JSON object, not {type(raw).__name__}.")
    declared = schema.get("properties", {})
    unknown = sorted(set(raw) - set(declared))
    if unknown and schema.get("additionalProperties") is False:
        abort(400, description=f"unknown field {', '.join(unknown)} (this body takes: {', '.join(sorted(declared))})")
    errors = sorted(_validator(schema).iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        error = _format_cause(errors[0]) or errors[0]
        where = ".".join(str(part) for part in error.absolute_path) or "body"
        abort(400, description=f"{where}: {_message(error)}")
    return raw


def _format_cause(error: ValidationError) -> ValidationError | None:
    """The date-time format error that ``error`` is or holds as a cause (a nullable field is "anyOf:
    null or the type", whose error holds each alternative's), else None."""
    return next((cause for cause in [error, *(error.context or [])] if cause.validator == "format"), None)


def _message(error: ValidationError) -> str:
    if error.validator == "format":
        return f"{error.instance!r} is not an ISO 8601 date-time such as 2024-01-01T00:00:00Z"
    return error.message


def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value)
    return True


@lru_cache(maxsize=1)
def _formats() -> FormatChecker:
    """The formats bodies are checked for; jsonschema is imported with the first body to check (the
    webserver's pages and most API calls have none)."""
    from jsonschema import FormatChecker

    formats = FormatChecker(formats=())
    formats.checks("date-time", raises=ValueError)(_is_date_time)
    return formats


def _validator(schema: dict[str, Any]) -> Draft4Validator:
    from jsonschema import Draft4Validator

    return Draft4Validator(schema, format_checker=_formats())


def to_json_schema(schema: dict[str, Any], components: dict[str, Any], *, writing: bool) -> dict[str, Any]:
    """An OpenAPI 3.0 schema as plain JSON Schema: references inlined, ``nullable`` as a null type,
    and (``writing``) the read-only properties left out, since a request may not set them."""
    if "$ref" in schema:
        return to_json_schema(components[schema["$ref"].rsplit("/", 1)[1]], components, writing=writing)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("nullable", "readOnly", "writeOnly", "description", "example", "default"):
            continue
        if key == "properties":
            out[key] = {
                name: to_json_schema(sub, components, writing=writing)
                for name, sub in value.items()
                if not (writing and sub.get("readOnly"))
            }
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_json_schema(value, components, writing=writing)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(sub, components, writing=writing) for sub in value]
        elif key == "required" and writing:
            properties = schema.get("properties", {})
            out[key] = [name for name in value if not properties.get(name, {}).get("readOnly")]
        else:
            out[key] = value
    if len(out.get("allOf", [])) == 1 and len(out) == 1:
        out = out["allOf"][0]
    if schema.get("nullable"):
        out = {"anyOf": [{"type": "null"}, out]}
    return out
