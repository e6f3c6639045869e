"""``PUT /api/v1/parseDagFile/<file_token>`` (Op): have the dag processor import a DAG file again at
its next scan, changed or not (as ``tradewind dags reserialize`` does at once for the whole folder) —
after a variable or a module the file needs was fixed, say. 201 as in Airflow; 404 for a file the
dag processor has never seen."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.dag_sources import fileloc_of
from tradewind.master.webserver.api.spec import FORBIDDEN, NOT_FOUND, operation, path_param
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, dag_files

bp = Blueprint("api_dag_parsing", __name__, url_prefix=f"{API_PREFIX}/parseDagFile")


@bp.put("/<file_token>")
@require_role("Op")
def reparse_dag_file(file_token: str) -> ResponseReturnValue:
    session = get_session()
    fileloc = fileloc_of(file_token)
    if not dag_files.request_reparse(session, fileloc):
        abort(404, description="the dag processor has not seen that DAG file")
    audit.record(session, "reparse_dag_file", owner=current_username(), extra={"file": fileloc, "source": "api"})
    session.commit()
    return Response(status=201)


OPENAPI_SCHEMAS: dict[str, Any] = {}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/parseDagFile/{{file_token}}": {
        "parameters": [path_param("file_token")],
        "put": operation(
            "reparse_dag_file",
            "Import a DAG file again at the dag processor's next scan (Op)",
            "DAG",
            ok=None,
            status="201",
            ok_description="Requested.",
            errors=(FORBIDDEN, NOT_FOUND),
        ),
    }
}
