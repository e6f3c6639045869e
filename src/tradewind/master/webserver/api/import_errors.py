"""``/api/v1/importErrors``: the DAG files that failed to import, with their tracebacks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import (
    API_PREFIX,
    LIMIT_PARAMETER,
    OFFSET_PARAMETER,
    json_response,
    page_args,
    problem_response,
)
from tradewind.master.webserver.db import get_session
from tradewind.metastore import import_errors
from tradewind.metastore.models import ParseImportError

bp = Blueprint("api_import_errors", __name__, url_prefix=f"{API_PREFIX}/importErrors")


@bp.get("")
def list_import_errors() -> ResponseReturnValue:
    limit, offset = page_args()
    errors = import_errors.list_import_errors(get_session())
    return jsonify(
        import_errors=[import_error_json(e) for e in errors[offset : offset + limit]], total_entries=len(errors)
    )


def import_error_json(error: ParseImportError) -> dict[str, Any]:
    return {
        "import_error_id": error.id,
        "filename": error.filename,
        "stack_trace": error.stacktrace,
        "timestamp": error.timestamp.isoformat() if error.timestamp is not None else None,
    }


OPENAPI_SCHEMAS: dict[str, Any] = {
    "ImportError": {
        "type": "object",
        "properties": {
            "import_error_id": {"type": "integer"},
            "filename": {"type": "string"},
            "stack_trace": {"type": "string", "nullable": True},
            "timestamp": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
    "ImportErrorCollection": {
        "type": "object",
        "properties": {
            "import_errors": {"type": "array", "items": {"$ref": "#/components/schemas/ImportError"}},
            "total_entries": {"type": "integer"},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/importErrors": {
        "get": {
            "operationId": "list_import_errors",
            "summary": "List the DAG files that failed to import, by file name",
            "tags": ["ImportError"],
            "parameters": [LIMIT_PARAMETER, OFFSET_PARAMETER],
            "responses": {
                "200": json_response("One page of import errors and how many there are.", "ImportErrorCollection"),
                "400": problem_response("A bad query parameter."),
                "401": problem_response("No or invalid credentials."),
            },
        },
    },
}
