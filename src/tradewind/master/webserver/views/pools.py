"""The pools page ``/pools`` (Admin): every pool with its used, queued and free slots; set the
slots of a pool (creating it), edit one (``?edit=<name>`` fills the form) and delete one (never
``default_pool``)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.auth import require_role
from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.views.admin_forms import confirm_first, recorded, refused
from tradewind.metastore import pools

bp = Blueprint("pools", __name__)

_LIST = "pools.pool_list"


@bp.get("/pools")
@require_role("Admin")
def pool_list() -> ResponseReturnValue:
    usage = pools.pool_usage(get_session())
    edit = request.args.get("edit")
    editing = next((u.pool for u in usage if u.pool.pool == edit), None)
    if edit and editing is None:
        abort(404, description=f"There is no pool {edit}.")
    return render_template("pools/list.html", pools=usage, default_pool=pools.DEFAULT_POOL, editing=editing)


@bp.post("/pools")
@require_role("Admin")
def set_pool() -> ResponseReturnValue:
    name = request.form.get("name", "").strip()
    raw = request.form.get("slots", "").strip()
    session = get_session()
    try:
        slots = int(raw)
        pool = pools.set_pool(session, name, slots, request.form.get("description") or None)
    except ValueError as exc:
        return refused(_LIST, exc if raw.lstrip("-").isdigit() else f"slots must be a whole number, not {raw!r}")
    done = f"Pool {pool.pool} has {pool.slots} slots."
    return recorded(_LIST, session, "pool.set", {"pool": pool.pool, "slots": pool.slots}, done)


@bp.post("/pools/<name>/delete")
@require_role("Admin")
def delete_pool(name: str) -> ResponseReturnValue:
    if (page := confirm_first(_LIST, "pool", name)) is not None:
        return page
    session = get_session()
    try:
        deleted = pools.delete_pool(session, name)
    except ValueError as exc:
        return refused(_LIST, exc)
    if not deleted:
        return refused(_LIST, f"There is no pool {name}.")
    return recorded(_LIST, session, "pool.delete", {"pool": name}, f"Pool {name} deleted.")
