"""The REST resource of a kind of keyed secret row (connections, variables): list, read, create,
change and delete under ``/api/v1/<noun>s``, every call for Admins only, every write audited, and
the OpenAPI paths describing them. A resource module keeps what is its own: its JSON, how a request
body is saved, and its schemas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from tradewind.master.webserver.api import API_PREFIX, json_object, page_args
from tradewind.master.webserver.api.resource_docs import WRITE_ERRORS, operation
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit
from tradewind.metastore.keyed_rows import KeyedRows

ValueT = TypeVar("ValueT")


@dataclass(frozen=True)
class KeyedResource(Generic[ValueT]):
    """What one resource has of its own: its rows, how a body is saved, and its JSON."""

    rows: KeyedRows[Any, ValueT]
    #: Create or change the row named by the key from a request body (the key taken out of it); a
    #: ``ValueError`` is answered 400 with its message.
    save: Callable[[Session, str, dict[str, Any]], ValueT]
    to_json: Callable[[ValueT], dict[str, Any]]

    @property
    def plural(self) -> str:
        return f"{self.rows.noun}s"

    @property
    def schema(self) -> str:
        """The OpenAPI name of one row's schema, and the resource's tag."""
        return self.rows.noun.capitalize()


def blueprint(import_name: str, resource: KeyedResource[Any]) -> Blueprint:
    """The resource's blueprint; ``import_name`` is the resource module, where ``openapi.py`` finds
    its ``OPENAPI_PATHS``."""
    rows, noun, plural = resource.rows, resource.rows.noun, resource.plural
    bp = Blueprint(f"api_{plural}", import_name, url_prefix=f"{API_PREFIX}/{plural}")

    def list_all() -> ResponseReturnValue:
        limit, offset = page_args()
        found = rows.read_all(get_session())
        page = [resource.to_json(value) for value in found[offset : offset + limit]]
        return jsonify({plural: page, "total_entries": len(found)})

    # The item routes name their URL variable after the key (``/<conn_id>``), as the OpenAPI paths do.
    def get_one(**path: str) -> ResponseReturnValue:
        return jsonify(resource.to_json(rows.read(get_session(), path[rows.key])))

    def create() -> ResponseReturnValue:
        body = json_object()
        return _save(resource, str(body.pop(rows.key, "")), body)

    def patch(**path: str) -> ResponseReturnValue:
        key = path[rows.key]
        rows.read(get_session(), key)
        body = json_object()
        body.pop(rows.key, None)
        return _save(resource, key, body)

    def delete(**path: str) -> ResponseReturnValue:
        key = path[rows.key]
        session = get_session()
        rows.delete(session, key)
        audit.record(session, f"{noun}.delete", owner=current_username(), extra={rows.key: key, "source": "api"})
        session.commit()
        return jsonify(deleted=key)

    admin, item = require_role("Admin"), f"/<{rows.key}>"
    bp.add_url_rule("", f"list_{plural}", admin(list_all), methods=["GET"])
    bp.add_url_rule("", f"create_{noun}", admin(create), methods=["POST"])
    bp.add_url_rule(item, f"get_{noun}", admin(get_one), methods=["GET"])
    bp.add_url_rule(item, f"patch_{noun}", admin(patch), methods=["PATCH"])
    bp.add_url_rule(item, f"delete_{noun}", admin(delete), methods=["DELETE"])
    return bp


def _save(resource: KeyedResource[Any], key: str, body: dict[str, Any]) -> ResponseReturnValue:
    session = get_session()
    try:
        saved = resource.save(session, key, body)
    except ValueError as exc:
        abort(400, description=str(exc))
    rows = resource.rows
    audit.record(
        session, f"{rows.noun}.set", owner=current_username(), extra={rows.key: rows.key_of(saved), "source": "api"}
    )
    session.commit()
    return jsonify(resource.to_json(saved))


def openapi_schemas(resource: KeyedResource[Any], row: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schemas of one row (``row``, what ``to_json`` answers) and of the list answer."""
    return {
        resource.schema: row,
        f"{resource.schema}Collection": {
            "type": "object",
            "properties": {
                resource.plural: {"type": "array", "items": {"$ref": f"#/components/schemas/{resource.schema}"}},
                "total_entries": {"type": "integer"},
            },
        },
    }


def openapi_paths(resource: KeyedResource[Any], *, why_admin: str, listed: str, change: str) -> dict[str, Any]:
    """The resource's OpenAPI paths: ``why_admin`` says why reading needs Admin too, ``listed``
    describes the list answer and ``change`` the PATCH."""
    rows, noun, plural, tag = resource.rows, resource.rows.noun, resource.plural, resource.schema
    note = f"Needs the Admin role, reading included: {why_admin}."
    not_found = f"No such {noun}."
    return {
        f"{API_PREFIX}/{plural}": {
            "get": operation(
                f"list_{plural}",
                f"List {plural} by {rows.key_name}. {note}",
                tag,
                (listed, f"{tag}Collection"),
                extra={"403": "The user is not an Admin."},
            ),
            "post": operation(
                f"create_{noun}",
                f"Create or replace a {noun}. {note}",
                tag,
                (f"The {noun}.", tag),
                body=tag,
                extra=WRITE_ERRORS,
            ),
        },
        f"{API_PREFIX}/{plural}/{{{rows.key}}}": {
            "parameters": [{"name": rows.key, "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": operation(
                f"get_{noun}",
                f"Read a {noun}. {note}",
                tag,
                (f"The {noun}.", tag),
                extra={"403": "The user is not an Admin.", "404": not_found},
            ),
            "patch": operation(
                f"patch_{noun}",
                f"{change} {note}",
                tag,
                (f"The {noun}.", tag),
                body=tag,
                extra={**WRITE_ERRORS, "404": not_found},
            ),
            "delete": operation(
                f"delete_{noun}",
                f"Delete a {noun}. {note}",
                tag,
                ("Deleted.", ""),
                extra={"403": WRITE_ERRORS["403"], "404": not_found},
            ),
        },
    }
