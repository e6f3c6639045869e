"""Errors as people and programs expect them: JSON ``{"title", "detail", "status"}`` under /api/,
an HTML page everywhere else.

A view raises (``abort(404, description=...)``, or one of tradewind's own errors) and never builds
an error response itself. tradewind's errors map to statuses here once: an unknown DAG or run is
404, a run that exists already 409, a bad param 400, an unreachable metastore 503, a stored secret the
Fernet key cannot decrypt 500 naming the variable or connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from flask import Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from tradewind.errors import (
    ConnectionNotFound,
    DagNotFound,
    DagRunAlreadyExists,
    DagRunNotFound,
    DagStillRunning,
    DatasetNotFound,
    InvalidInput,
    MetastoreError,
    ParamValidationError,
    PoolNotFound,
    SecretDecryptionError,
    TaskNotFound,
    UserAlreadyExists,
    UserNotFound,
    VariableNotFound,
)
from tradewind.master.webserver.auth import is_api_request
from tradewind.master.webserver.db import metastore
from tradewind.metastore.engine import unreachable_error

logger = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
METASTORE_DOWN = "The metastore does not answer; the webserver log says why. Try again in a moment."

#: tradewind's exceptions and the HTTP status each one means.
STATUS_OF: dict[type[Exception], int] = {
    DagNotFound: 404,
    DagRunNotFound: 404,
    TaskNotFound: 404,
    DatasetNotFound: 404,
    UserNotFound: 404,
    VariableNotFound: 404,
    ConnectionNotFound: 404,
    PoolNotFound: 404,
    DagRunAlreadyExists: 409,
    UserAlreadyExists: 409,
    DagStillRunning: 409,
    ParamValidationError: 400,
    # Too long, out of range, a run id Airflow would not allow: the message names the value.
    InvalidInput: 400,
    # A stored secret the configured TRADEWIND_FERNET_KEY cannot decrypt: the message names the row.
    SecretDecryptionError: 500,
}


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    for exc_type, status in STATUS_OF.items():
        app.register_error_handler(exc_type, _status_handler(status))
    app.register_error_handler(OperationalError, _metastore_unreachable)
    app.register_error_handler(MetastoreError, _metastore_unreachable)
    app.register_error_handler(Exception, _unexpected)


def error_response(status: int, detail: str, *, headers: dict[str, str] | None = None) -> Response:
    """The error response for this request: problem JSON for the API, an HTML page otherwise."""
    title = _title(status)
    if is_api_request():
        response = jsonify(title=title, detail=detail, status=status)
        response.mimetype = PROBLEM_MIMETYPE
    else:
        response = Response(render_template("errors/error.html", status=status, title=title, detail=detail))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
    return error_response(status, exc.description or _title(status), headers=headers)


def _status_handler(status: int) -> Callable[[Exception], Response]:
    def handle(exc: Exception) -> Response:
        return error_response(status, str(exc))

    return handle


def _metastore_unreachable(exc: Exception) -> Response:
    if isinstance(exc, OperationalError) and not _is_connection_error(exc):
        return _unexpected(exc)
    if not isinstance(exc, MetastoreError):
        exc = unreachable_error(metastore(current_app).engine, exc)
    # The reason (with the database's address) goes to the log, not to whoever sent the request.
    logger.error("%s %s: %s", request.method, request.path, exc)
    return error_response(503, METASTORE_DOWN)


def _is_connection_error(exc: OperationalError) -> bool:
    # OperationalError is also raised for a lock timeout or a cancelled statement; only a failed or
    # dropped connection means the metastore is unreachable.
    text = str(getattr(exc, "orig", exc)).lower()
    return any(
        words in text
        for words in (
            "could not connect",
            "connection refused",
            "server closed",
            "connection to server",
            "timeout expired",
            "unable to open",
        )
    )


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    logger.exception("unhandled error in %s %s", request.method, request.path)
    return error_response(500, "An unexpected error occurred; the webserver log has the details.")


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
