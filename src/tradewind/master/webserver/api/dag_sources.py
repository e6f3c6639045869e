"""``/api/v1/dagSources/<file_token>``: a DAG file's source, as the dag processor last read it.

A DAG's ``file_token`` (in its API answer) names its file without showing the path in a URL: the
path signed with the app's secret key, as Airflow does, so a token cannot be forged to read any
other file.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeSerializer

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.spec import NOT_FOUND, obj, operation, path_param, string
from tradewind.master.webserver.db import get_session
from tradewind.metastore import dag_code

bp = Blueprint("api_dag_sources", __name__, url_prefix=f"{API_PREFIX}/dagSources")

_SALT = "tradewind.dag-source"


def file_token(fileloc: str) -> str:
    """The token of a DAG file for ``/dagSources``."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT).dumps(fileloc)


def fileloc_of(token: str) -> str:
    """The DAG file a ``file_token`` names; 404 for a token this webserver did not sign."""
    try:
        return str(URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT).loads(token))
    except BadSignature:
        abort(404, description="no DAG file has that file_token (take it from a DAG's file_token)")


def wants_json() -> bool:
    """Whether this request asked for JSON over text/plain (text/plain wins a tie, as in Airflow)."""
    best = request.accept_mimetypes.best_match(["text/plain", "application/json"])
    return best == "application/json" or (best is None and bool(request.accept_mimetypes))


@bp.get("/<file_token>")
def get_dag_source(file_token: str) -> ResponseReturnValue:
    code = dag_code.get_code(get_session(), fileloc_of(file_token))
    if code is None:
        abort(404, description="the source of that DAG file is not stored (has the dag processor read it?)")
    if wants_json():
        return jsonify(content=code.source)
    return Response(code.source, mimetype="text/plain")


OPENAPI_SCHEMAS: dict[str, Any] = {"DagSource": obj({"content": string()})}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/dagSources/{{file_token}}": {
        "parameters": [path_param("file_token", description="A DAG's file_token.")],
        "get": operation(
            "get_dag_source",
            "A DAG file's source (text/plain, or JSON when asked for)",
            "DAG",
            ok="DagSource",
            text=True,
            errors=(NOT_FOUND,),
        ),
    }
}
