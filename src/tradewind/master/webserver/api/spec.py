"""Building blocks of the API's OpenAPI 3.0 document: schemas, parameters, operations.

Every API module describes its paths and schemas with these, next to its views. The document is
not only documentation: ``request_check`` admits exactly the query parameters and body fields an
operation declares (with their types and defaults), and the tests validate every answer against
it, so the views and the document cannot drift apart. Objects are closed
(``additionalProperties: false``): a field the code answers but the document lacks fails the tests.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

#: Airflow's own names for the answers every operation may give.
UNAUTHENTICATED = ("401", "No or invalid credentials.")
FORBIDDEN = ("403", "The user's role is too low, or a session request lacks X-CSRFToken.")
BAD_REQUEST = ("400", "A bad query parameter or body: the detail names it.")
NOT_FOUND = ("404", "No such object: the detail says which.")
CONFLICT = ("409", "It exists already.")


def _with(schema: Schema, *, nullable: bool, read_only: bool, description: str | None) -> Schema:
    if nullable:
        schema["nullable"] = True
    if read_only:
        schema["readOnly"] = True
    if description:
        schema["description"] = description
    return schema


def string(
    *,
    nullable: bool = False,
    read_only: bool = False,
    enum: list[Any] | None = None,
    fmt: str | None = None,
    description: str | None = None,
) -> Schema:
    schema: Schema = {"type": "string"}
    if enum is not None:
        schema["enum"] = [*enum, None] if nullable else enum
    if fmt is not None:
        schema["format"] = fmt
    return _with(schema, nullable=nullable, read_only=read_only, description=description)


def date_time(*, nullable: bool = True, read_only: bool = False, description: str | None = None) -> Schema:
    return string(nullable=nullable, read_only=read_only, fmt="date-time", description=description)


def integer(
    *,
    nullable: bool = False,
    read_only: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
    description: str | None = None,
) -> Schema:
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _with(schema, nullable=nullable, read_only=read_only, description=description)


def number(*, nullable: bool = False, read_only: bool = False, description: str | None = None) -> Schema:
    return _with({"type": "number"}, nullable=nullable, read_only=read_only, description=description)


def boolean(
    *, nullable: bool = False, read_only: bool = False, default: bool | None = None, description: str | None = None
) -> Schema:
    schema: Schema = {"type": "boolean"}
    if default is not None:
        schema["default"] = default
    return _with(schema, nullable=nullable, read_only=read_only, description=description)


def array(items: Schema, *, nullable: bool = False, read_only: bool = False, description: str | None = None) -> Schema:
    return _with({"type": "array", "items": items}, nullable=nullable, read_only=read_only, description=description)


def ref(name: str, *, read_only: bool = False) -> Schema:
    """A reference to ``#/components/schemas/<name>`` (wrapped when read-only). OpenAPI 3.0 ignores
    ``nullable`` beside a reference: a field that may be null refers to a schema that is nullable
    itself (as Airflow's ``TimeDelta`` is)."""
    target = {"$ref": f"#/components/schemas/{name}"}
    if not read_only:
        return target
    return _with({"allOf": [target]}, nullable=False, read_only=read_only, description=None)


def any_value(*, description: str | None = None) -> Schema:
    """Any JSON value, null included (an XCom's value)."""
    return _with({}, nullable=True, read_only=False, description=description)


def free_object(*, nullable: bool = False, read_only: bool = False, description: str | None = None) -> Schema:
    """A JSON object whose keys are the user's (a run's conf, rendered fields)."""
    schema: Schema = {"type": "object", "additionalProperties": True}
    return _with(schema, nullable=nullable, read_only=read_only, description=description)


def obj(
    properties: dict[str, Schema],
    *,
    required: tuple[str, ...] | list[str] = (),
    nullable: bool = False,
    description: str | None = None,
) -> Schema:
    """A closed object: exactly these properties."""
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return _with(schema, nullable=nullable, read_only=False, description=description)


def collection(key: str, item: str) -> Schema:
    """Airflow's list answer: ``{key: [item…], "total_entries": n}``."""
    return obj(
        {key: array(ref(item)), "total_entries": integer(description="How many matched, across all pages.")},
        required=(key, "total_entries"),
    )


# --- parameters ------------------------------------------------------------------------------------

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def path_param(name: str, schema: Schema | None = None, *, description: str | None = None) -> Schema:
    param: Schema = {"name": name, "in": "path", "required": True, "schema": schema or string()}
    if description:
        param["description"] = description
    return param


def query_param(name: str, schema: Schema, *, description: str | None = None) -> Schema:
    param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if schema.get("type") == "array":
        param.update(style="form", explode=True)
    if description:
        param["description"] = description
    return param


LIMIT = query_param(
    "limit", {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, description="Page size."
)
OFFSET = query_param("offset", {"type": "integer", "minimum": 0, "default": 0}, description="Entries to skip.")
PAGE = (LIMIT, OFFSET)


def order_by(fields: tuple[str, ...], default: str) -> Schema:
    """Airflow's ``order_by``: a field name, ``-`` before it for descending order."""
    return query_param(
        "order_by",
        {"type": "string", "default": default},
        description=f"Sort by one of {', '.join(fields)}; prefix with - for descending order.",
    )


def date_range(field: str, what: str) -> tuple[Schema, Schema]:
    """``<field>_gte`` / ``<field>_lte``: only rows whose ``what`` is at or after / before."""
    return (
        query_param(f"{field}_gte", date_time(nullable=False), description=f"Only those whose {what} is at or after."),
        query_param(f"{field}_lte", date_time(nullable=False), description=f"Only those whose {what} is at or before."),
    )


def strings(name: str, description: str, *, enum: list[str] | None = None) -> Schema:
    """A repeatable query parameter (``?state=a&state=b``)."""
    return query_param(name, array(string(enum=enum)), description=description)


UPDATE_MASK = strings("update_mask", "Change only these fields of the body (default: every field given).")


# --- operations ------------------------------------------------------------------------------------


def problem(description: str) -> Schema:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def json_body(schema: Schema | str, description: str) -> Schema:
    found = ref(schema) if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": found}}}


def operation(
    op_id: str,
    summary: str,
    tag: str,
    *,
    ok: Schema | str | None,
    ok_description: str = "OK",
    status: str = "200",
    params: tuple[Schema, ...] | list[Schema] = (),
    body: Schema | str | None = None,
    body_required: bool = True,
    errors: tuple[tuple[str, str], ...] = (),
    public: bool = False,
    text: bool = False,
) -> Schema:
    """One operation: its ``ok`` answer (a schema, a schema's name, or None for an empty answer
    with ``status`` 204), the ``errors`` (status, description) it may give besides 401, its
    ``params`` and its JSON ``body``. ``text``: it also answers text/plain when asked."""
    responses: dict[str, Any] = {}
    if ok is None:
        responses[status] = {"description": ok_description}
    else:
        responses[status] = json_body(ok, ok_description)
        if text:
            responses[status]["content"]["text/plain"] = {"schema": {"type": "string"}}
    if not public:
        responses[UNAUTHENTICATED[0]] = problem(UNAUTHENTICATED[1])
    for code, description in errors:
        responses[code] = problem(description)
    found: Schema = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": responses}
    if params:
        found["parameters"] = list(params)
    if body is not None:
        found["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": ref(body) if isinstance(body, str) else body}},
        }
    if public:
        found["security"] = []
    return found
