"""``/api/v1/pools``: read pools with their slot use (any user); create, change and delete them
(Admin). ``default_pool`` cannot be deleted nor renamed. Deferred task instances occupy a pool's
slots only when it has ``include_deferred``, as in Airflow."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.errors import PoolNotFound
from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.request_check import arg, body, sorted_page
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    CONFLICT,
    FORBIDDEN,
    PAGE,
    UPDATE_MASK,
    boolean,
    collection,
    integer,
    obj,
    operation,
    order_by,
    path_param,
    string,
)
from tradewind.master.webserver.auth import current_username, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, pools
from tradewind.metastore.pools import PoolUsage

bp = Blueprint("api_pools", __name__, url_prefix=f"{API_PREFIX}/pools")

ORDER_FIELDS = ("name", "slots", "description", "include_deferred")
WRITABLE = ("name", "slots", "description", "include_deferred")


@bp.get("")
def get_pools() -> ResponseReturnValue:
    rows = [pool_json(p) for p in pools.pool_usage(get_session())]
    return jsonify(pools=sorted_page(rows, ORDER_FIELDS), total_entries=len(rows))


@bp.get("/<pool_name>")
def get_pool(pool_name: str) -> ResponseReturnValue:
    return jsonify(pool_json(_usage(pool_name)))


@bp.post("")
@require_role("Admin")
def post_pool() -> ResponseReturnValue:
    form = body()
    missing = [name for name in ("name", "slots") if name not in form]
    if missing:
        abort(400, description=f"a pool needs {' and '.join(missing)}")
    if pools.get_pool(get_session(), form["name"]) is not None:
        abort(409, description=f"pool {form['name']!r} exists already")
    return _save(form["name"], form)


@bp.patch("/<pool_name>")
@require_role("Admin")
def patch_pool(pool_name: str) -> ResponseReturnValue:
    current = _usage(pool_name).pool
    form = body()
    mask = arg("update_mask")
    if mask:
        unknown = sorted(set(mask) - set(WRITABLE))
        if unknown:
            abort(400, description=f"update_mask names no field of a pool: {', '.join(unknown)}")
        form = {name: value for name, value in form.items() if name in mask}
    new_name = form.get("name", pool_name)
    if new_name != pool_name:
        # Renaming would orphan every task that names the pool; Airflow refuses it for default_pool.
        abort(400, description="a pool cannot be renamed; create one with the new name instead")
    merged = {
        "slots": current.slots,
        "description": current.description,
        "include_deferred": current.include_deferred,
        **form,
    }
    return _save(pool_name, merged)


@bp.delete("/<pool_name>")
@require_role("Admin")
def delete_pool(pool_name: str) -> ResponseReturnValue:
    session = get_session()
    try:
        deleted = pools.delete_pool(session, pool_name)
    except ValueError as exc:
        abort(400, description=str(exc))
    if not deleted:
        raise PoolNotFound(f"no pool named {pool_name!r}")
    audit.record(session, "pool.delete", owner=current_username(), extra={"pool": pool_name, "source": "api"})
    session.commit()
    return Response(status=204)


def _save(name: str, form: dict[str, Any]) -> ResponseReturnValue:
    session = get_session()
    try:
        pool = pools.set_pool(
            session, name, form["slots"], form.get("description"), include_deferred=form.get("include_deferred", False)
        )
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
        "occupied_slots": usage.occupied,
        "running_slots": usage.running,
        "queued_slots": usage.queued,
        "open_slots": usage.free,
        "scheduled_slots": usage.scheduled,
        "deferred_slots": usage.deferred,
        "description": pool.description,
        "include_deferred": pool.include_deferred,
    }


OPENAPI_SCHEMAS: dict[str, Any] = {
    "Pool": obj(
        {
            "name": string(),
            "slots": integer(minimum=0, description="How many task slots the pool has."),
            "occupied_slots": integer(
                read_only=True,
                description="Taken by running and queued task instances (and deferred ones with include_deferred).",
            ),
            "running_slots": integer(read_only=True),
            "queued_slots": integer(read_only=True),
            "open_slots": integer(read_only=True),
            "scheduled_slots": integer(read_only=True),
            "deferred_slots": integer(read_only=True, description="Taken by deferred task instances."),
            "description": string(nullable=True),
            "include_deferred": boolean(),
        }
    ),
    "PoolCollection": collection("pools", "Pool"),
}

_NAME = path_param("pool_name")
_NOT_FOUND = ("404", "No such pool.")

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/pools": {
        "get": operation(
            "get_pools",
            "List the slot pools with their slot use",
            "Pool",
            ok="PoolCollection",
            params=(*PAGE, order_by(ORDER_FIELDS, "name")),
            errors=(BAD_REQUEST,),
        ),
        "post": operation(
            "post_pool",
            "Create a pool (Admin)",
            "Pool",
            ok="Pool",
            body="Pool",
            errors=(BAD_REQUEST, FORBIDDEN, CONFLICT),
        ),
    },
    f"{API_PREFIX}/pools/{{pool_name}}": {
        "parameters": [_NAME],
        "get": operation("get_pool", "Read one pool", "Pool", ok="Pool", errors=(_NOT_FOUND,)),
        "patch": operation(
            "patch_pool",
            "Change a pool's slots, description or include_deferred (Admin)",
            "Pool",
            ok="Pool",
            params=(UPDATE_MASK,),
            body="Pool",
            errors=(BAD_REQUEST, FORBIDDEN, _NOT_FOUND),
        ),
        "delete": operation(
            "delete_pool",
            "Delete a pool (Admin); default_pool cannot be deleted (400)",
            "Pool",
            ok=None,
            status="204",
            ok_description="Deleted.",
            errors=(BAD_REQUEST, FORBIDDEN, _NOT_FOUND),
        ),
    },
}
