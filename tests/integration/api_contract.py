"""Checking the API's answers against its own OpenAPI document while the web tests run: every JSON
answer of an ``/api/v1`` operation that succeeded must match the schema the document gives it
(objects are closed there, so an undocumented field fails too), and every error must be problem
JSON. ``watch_answers(app)`` returns the list the mismatches are added to; the fixture asserts it
stays empty."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Flask, Request, Response, request
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from tradewind.master.webserver.api.openapi import build_document


def watch_answers(app: Flask) -> list[str]:
    problems: list[str] = []
    checker: dict[str, Any] = {}

    def check(response: Response) -> Response:
        if not request.path.startswith("/api/v1/") or request.path.endswith("/openapi.json"):
            return response
        if any(step in (".", "..") for step in request.path.split("/")):
            return response  # a dot segment names another path once normalized: no client asks for it
        if "spec" not in checker:
            checker["spec"] = OpenAPI.from_dict(build_document(app))
        if response.status_code >= 400:
            body = response.get_json(silent=True)
            if not (isinstance(body, dict) and {"title", "detail", "status"} <= set(body)):
                problems.append(f"{request.method} {request.path}: {response.status_code} is not problem JSON")
            return response
        if response.mimetype != "application/json":
            return response
        response.direct_passthrough = False
        try:
            checker["spec"].validate_response(
                WerkzeugOpenAPIRequest(_slashes_quoted(request)), WerkzeugOpenAPIResponse(response)
            )
        except Exception as exc:  # noqa: BLE001 - every mismatch is reported with its reason
            cause = exc.__cause__ or exc
            reasons = [str(e)[:300] for e in getattr(cause, "schema_errors", [])] or [repr(cause)]
            problems.append(f"{request.method} {request.full_path}: {'; '.join(reasons)[:2000]}")
        return response

    app.after_request(check)
    return problems


def _slashes_quoted(asked: Request) -> Request:
    """``asked`` as a client sends it when a path parameter holds slashes (a dataset URI): quoted, so
    the document's ``{uri}`` matches it as one segment."""
    values = [v for v in (asked.view_args or {}).values() if isinstance(v, str) and "/" in v]
    if not values:
        return asked
    path = asked.path
    for value in values:
        path = path.replace(value, quote(value, safe=""))
    return Request({**asked.environ, "PATH_INFO": path})
