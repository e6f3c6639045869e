"""Input no view should ever see, refused with a 400 before any view runs: a NUL character in the
path, the query string or a form field (PostgreSQL cannot hold one, so it could name nothing), and
a JSON body nested deeper than ``MAX_JSON_DEPTH`` or holding a NUL in any of its strings. Every
route gets this, including routes added later."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request

from tradewind.errors import NotAJsonObject
from tradewind.sdk.json_object import check_depth

NUL = "\x00"


def init_app(app: Flask) -> None:
    app.before_request(refuse_unusable_input)


def refuse_unusable_input() -> None:
    if NUL in request.path:
        abort(400, description="The path holds a NUL character; no name in tradewind can.")
    for source, values in (("query parameter", request.args), ("form field", request.form)):
        for name, value in values.items(multi=True):
            if NUL in name or NUL in value:
                abort(400, description=f"The {source} {name.replace(NUL, '')!r} holds a NUL character.")
    if request.is_json and request.content_length != 0:
        try:
            check_depth(request.get_data(cache=True), "The request body")
        except NotAJsonObject as exc:
            abort(400, description=str(exc))
        if _holds_nul(request.get_json(silent=True)):
            abort(400, description="The request body holds a NUL character (\\u0000) in a string.")


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
