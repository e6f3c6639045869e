"""``/api/v1/pools``: read pools with their slot use (any user); create, change and delete them
(Admin). ``default_pool`` cannot be deleted."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.errors import PoolNotFound
from tradewind.master.webserver.api import API_PREFIX, json_object, page_args
from tradewind.master.webserver.api.resource_docs import WRITE_ERRORS, operation
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, pools
from tradewind.metastore.pools import PoolUsage

bp = Blueprint("api_pools", __name__, url_prefix=f"{API_PREFIX}/pools")


@bp.get("")
def list_pools() -> ResponseReturnValue:
    limit, offset = page_args()
    rows = pools.pool_usage(get_session())
    return jsonify(pools=[pool_json(p) for p in rows[offset : offset + limit]], total_entries=len(rows))


@bp.get("/<name>")
def get_pool(name: str) -> ResponseReturnValue:
    return jsonify(pool_json(_usage(name)))


@bp.post("")
@require_role("Admin")
def create_pool() -> ResponseReturnValue:
    body = json_object()
    return _save(str(body.get("name", "")), body, require_slots=True)


@bp.patch("/<name>")
@require_role("Admin")
def patch_pool(name: str) -> ResponseReturnValue:
    _usage(name)
    return _save(name, json_object(), require_slots=False)


@bp.delete("/<name>")
@require_role("Admin")
def delete_pool(name: str) -> ResponseReturnValue:
    session = get_session()
    try:
        deleted = pools.delete_pool(session, name)
    except ValueError as exc:
        abort(409, description=str(exc))
    if not deleted:
        raise PoolNotFound(f"no pool named {name!r}")
    audit.record(session, "pool.delete", owner=current_username(), extra={"pool": name, "source": "api"})
    session.commit()
    return jsonify(deleted=name)


def _save(name: str, body: dict[str, Any], *, require_slots: bool) -> ResponseReturnValue:
    unknown = sorted(set(body) - {"name", "slots", "description", "include_deferred"})
    if unknown:
        abort(400, description=f"unknown fields: {', '.join(unknown)}")
    session = get_session()
    current = pools.get_pool(session, name)
    slots = body.get("slots", current.slots if current is not None and not require_slots else None)
    if isinstance(slots, bool) or not isinstance(slots, int):
        abort(400, description=f"slots must be a whole number, not {slots!r}")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        abort(400, description="description must be a string")
    include_deferred = body.get("include_deferred", current.include_deferred if current is not None else False)
    if not isinstance(include_deferred, bool):
        abort(400, description="include_deferred must be true or false")
    try:
        pool = pools.set_pool(session, name, slots, description, include_deferred=include_deferred)
    except ValueError as exc:
        abort(400, description=str(exc))
    audit.record(
        session, "pool.set", owner=current_username(), extra={"pool": pool.pool, "slots": pool.slots, "source": "api"}
    )
    session.commit()
    return jsonify(pool_json(_usage(pool.pool)))


def _usage(name: str) -> PoolUsage:
    found = next((p for p in pools.pool_usage(get_session()) if p.pool.pool == name), None)
    if found is None:
        raise PoolNotFound(f"no pool named {name!r}")
    return found


def pool_json(usage: PoolUsage) -> dict[str, Any]:
    pool = usage.pool
    return {
        "name": pool.pool,
        "slots": pool.slots,
        "description": pool.description,
        "include_deferred": pool.include_deferred,
        "running_slots": usage.running,
        "queued_slots": usage.queued,
        "open_slots": usage.free,
    }


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Pool": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "slots": {"type": "integer"},
            "description": {"type": "string", "nullable": True},
            "include_deferred": {"type": "boolean"},
            "running_slots": {"type": "integer", "readOnly": True},
            "queued_slots": {"type": "integer", "readOnly": True},
            "open_slots": {"type": "integer", "readOnly": True},
        },
    },
    "PoolCollection": {
        "type": "object",
        "properties": {
            "pools": {"type": "array", "items": {"$ref": "#/components/schemas/Pool"}},
            "total_entries": {"type": "integer"},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/pools": {
        "get": operation(
            "get_pools", "List the slot pools with their slot use", "Pool", ("Pools by name.", "PoolCollection")
        ),
        "post": operation(
            "create_pool",
            "Create a pool or set its slots (Admin)",
            "Pool",
            ("The pool.", "Pool"),
            body="Pool",
            extra=WRITE_ERRORS,
        ),
    },
    f"{API_PREFIX}/pools/{{name}}": {
        "parameters": [_NAME],
        "get": operation("get_pool", "Read one pool", "Pool", ("The pool.", "Pool"), extra={"404": "No such pool."}),
        "patch": operation(
            "patch_pool",
            "Change a pool's slots, description or include_deferred (Admin)",
            "Pool",
            ("The pool.", "Pool"),
            body="Pool",
            extra={**WRITE_ERRORS, "404": "No such pool."},
        ),
        "delete": operation(
            "delete_pool",
            "Delete a pool (Admin); default_pool cannot be deleted",
            "Pool",
            ("Deleted.", ""),
            extra={"403": WRITE_ERRORS["403"], "404": "No such pool.", "409": "default_pool cannot be deleted."},
        ),
    },
}
