"""The REST resource of a kind of keyed secret row (connections, variables): list, read, create,
change and delete under ``/api/v1/<noun>s``, every call for Admins only, every write audited, and
the OpenAPI paths describing them. A resource module keeps what is its own: its names, its JSON,
how a request body is saved, and its schemas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Blueprint, Response, abort, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.request_check import arg, body, page_of, requested_order
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    CONFLICT,
    FORBIDDEN,
    PAGE,
    UPDATE_MASK,
    operation,
    order_by,
    path_param,
)
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit
from tradewind.metastore.keyed_rows import KeyedRows

ValueT = TypeVar("ValueT")


@dataclass(frozen=True)
class KeyedResource(Generic[ValueT]):
    """What one resource has of its own: its rows and names, how a body is saved, and its JSON."""

    rows: KeyedRows[Any, ValueT]
    #: The key's name in a request body and an answer (``connection_id``), and in the URL.
    body_key: str
    path_key: str
    #: Create or change the row named by the key from a request body (the key taken out of it); a
    #: ``ValueError`` is answered 400 with its message.
    save: Callable[[Session, str, dict[str, Any]], ValueT]
    to_json: Callable[[ValueT], dict[str, Any]]
    #: The OpenAPI name of one row's schema, and the resource's tag.
    schema: str
    #: Whether creating a row that exists is a 409 (connections) or replaces it (variables), as in Airflow.
    create_conflicts: bool

    @property
    def plural(self) -> str:
        return f"{self.rows.noun}s"


def blueprint(import_name: str, resource: KeyedResource[Any]) -> Blueprint:
    """The resource's blueprint; ``import_name`` is the resource module, where ``openapi.py`` finds
    its ``OPENAPI_PATHS``."""
    rows, noun, plural = resource.rows, resource.rows.noun, resource.plural
    bp = Blueprint(f"api_{plural}", import_name, url_prefix=f"{API_PREFIX}/{plural}")

    def list_all() -> ResponseReturnValue:
        _, descending = requested_order((resource.body_key,))
        found = rows.read_all(get_session())
        if descending:
            found.reverse()
        return jsonify({plural: [resource.to_json(value) for value in page_of(found)], "total_entries": len(found)})

    def get_one(**path: str) -> ResponseReturnValue:
        return jsonify(resource.to_json(rows.read(get_session(), path[resource.path_key])))

    def create() -> ResponseReturnValue:
        form = dict(body())
        key = str(form.pop(resource.body_key, "") or "")
        if resource.create_conflicts and key and _exists(resource, key):
            abort(409, description=f"{noun} {key!r} exists already")
        return _save(resource, key, form)

    def patch(**path: str) -> ResponseReturnValue:
        key = path[resource.path_key]
        rows.read(get_session(), key)
        form = dict(body())
        if form.pop(resource.body_key, key) != key:
            abort(400, description=f"the {resource.body_key} of a {noun} cannot be changed")
        mask = arg("update_mask")
        if mask:
            unknown = sorted(set(mask) - set(form) - {resource.body_key})
            if unknown:
                abort(400, description=f"update_mask names fields the body does not give: {', '.join(unknown)}")
            form = {name: value for name, value in form.items() if name in mask}
        return _save(resource, key, form)

    def delete(**path: str) -> ResponseReturnValue:
        key = path[resource.path_key]
        session = get_session()
        rows.delete(session, key)
        audit.record(session, f"{noun}.delete", owner=current_username(), extra={rows.key: key, "source": "api"})
        session.commit()
        return Response(status=204)

    admin, item = require_role("Admin"), f"/<path:{resource.path_key}>"
    bp.add_url_rule("", f"list_{plural}", admin(list_all), methods=["GET"])
    bp.add_url_rule("", f"create_{noun}", admin(create), methods=["POST"])
    bp.add_url_rule(item, f"get_{noun}", admin(get_one), methods=["GET"])
    bp.add_url_rule(item, f"patch_{noun}", admin(patch), methods=["PATCH"])
    bp.add_url_rule(item, f"delete_{noun}", admin(delete), methods=["DELETE"])
    return bp


def _exists(resource: KeyedResource[Any], key: str) -> bool:
    try:
        resource.rows.read(get_session(), key)
    except resource.rows.not_found:
        return False
    return True


def _save(resource: KeyedResource[Any], key: str, form: dict[str, Any]) -> ResponseReturnValue:
    session = get_session()
    try:
        saved = resource.save(session, key, form)
    except ValueError as exc:
        abort(400, description=str(exc))
    rows = resource.rows
    audit.record(
        session, f"{rows.noun}.set", owner=current_username(), extra={rows.key: rows.key_of(saved), "source": "api"}
    )
    session.commit()
    return jsonify(resource.to_json(saved))


def openapi_paths(resource: KeyedResource[Any], *, why_admin: str, listed: str, change: str) -> dict[str, Any]:
    """The resource's OpenAPI paths: ``why_admin`` says why reading needs Admin too, ``listed``
    describes the list answer and ``change`` the PATCH."""
    noun, plural, tag = resource.rows.noun, resource.plural, resource.schema
    note = f"Needs the Admin role, reading included: {why_admin}."
    not_found = ("404", f"No such {noun}.")
    admin_only = ("403", "The user is not an Admin.")
    return {
        f"{API_PREFIX}/{plural}": {
            "get": operation(
                f"get_{plural}",
                f"{listed} {note}",
                tag,
                ok=f"{tag}Collection",
                params=(*PAGE, order_by((resource.body_key,), resource.body_key)),
                errors=(BAD_REQUEST, admin_only),
            ),
            "post": operation(
                f"post_{noun}",
                f"Create a {noun}. {note}",
                tag,
                ok=tag,
                body=tag,
                errors=(BAD_REQUEST, FORBIDDEN, *((CONFLICT,) if resource.create_conflicts else ())),
            ),
        },
        f"{API_PREFIX}/{plural}/{{{resource.path_key}}}": {
            "parameters": [path_param(resource.path_key)],
            "get": operation(f"get_{noun}", f"Read a {noun}. {note}", tag, ok=tag, errors=(admin_only, not_found)),
            "patch": operation(
                f"patch_{noun}",
                f"{change} {note}",
                tag,
                ok=tag,
                params=(UPDATE_MASK,),
                body=tag,
                errors=(BAD_REQUEST, FORBIDDEN, not_found),
            ),
            "delete": operation(
                f"delete_{noun}",
                f"Delete a {noun}. {note}",
                tag,
                ok=None,
                status="204",
                ok_description="Deleted.",
                errors=(FORBIDDEN, not_found),
            ),
        },
    }
