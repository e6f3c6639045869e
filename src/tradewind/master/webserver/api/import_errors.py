"""``/api/v1/importErrors``: the DAG files that failed to import, with their tracebacks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX, iso
from tradewind.master.webserver.api.request_check import sorted_page
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    NOT_FOUND,
    PAGE,
    collection,
    date_time,
    integer,
    obj,
    operation,
    order_by,
    path_param,
    string,
)
from tradewind.master.webserver.db import get_session
from tradewind.metastore import import_errors
from tradewind.metastore.models import ParseImportError

bp = Blueprint("api_import_errors", __name__, url_prefix=f"{API_PREFIX}/importErrors")

ORDER_FIELDS = ("import_error_id", "filename", "timestamp")


@bp.get("")
def get_import_errors() -> ResponseReturnValue:
    errors = [import_error_json(e) for e in import_errors.list_import_errors(get_session())]
    return jsonify(import_errors=sorted_page(errors, ORDER_FIELDS), total_entries=len(errors))


@bp.get("/<import_error_id>")
def get_import_error(import_error_id: str) -> ResponseReturnValue:
    wanted = int(import_error_id)
    found = next((e for e in import_errors.list_import_errors(get_session()) if e.id == wanted), None)
    if found is None:
        abort(404, description=f"no import error with id {wanted}")
    return jsonify(import_error_json(found))


def import_error_json(error: ParseImportError) -> dict[str, Any]:
    return {
        "import_error_id": error.id,
        "timestamp": iso(error.timestamp),
        "filename": error.filename,
        "stack_trace": error.stacktrace or "",
    }


OPENAPI_SCHEMAS: dict[str, Any] = {
    "ImportError": obj(
        {
            "import_error_id": integer(read_only=True),
            "timestamp": date_time(read_only=True),
            "filename": string(read_only=True),
            "stack_trace": string(read_only=True),
        }
    ),
    "ImportErrorCollection": collection("import_errors", "ImportError"),
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/importErrors": {
        "get": operation(
            "get_import_errors",
            "The DAG files that failed to import",
            "ImportError",
            ok="ImportErrorCollection",
            params=(*PAGE, order_by(ORDER_FIELDS, "import_error_id")),
            errors=(BAD_REQUEST,),
        ),
    },
    f"{API_PREFIX}/importErrors/{{import_error_id}}": {
        "parameters": [path_param("import_error_id", integer())],
        "get": operation("get_import_error", "One import error", "ImportError", ok="ImportError", errors=(NOT_FOUND,)),
    },
}
