"""The pools page ``/pools`` (Admin): every pool with its used, queued and free slots; set the
slots of a pool (creating it) and delete one (never ``default_pool``)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.auth import current_user, require_role
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit, pools

bp = Blueprint("pools", __name__)


@bp.get("/pools")
@require_role("Admin")
def pool_list() -> ResponseReturnValue:
    return render_template("pools/list.html", pools=pools.pool_usage(get_session()), default_pool=pools.DEFAULT_POOL)


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
        flash(str(exc) if raw.lstrip("-").isdigit() else f"slots must be a whole number, not {raw!r}", "error")
        return redirect(url_for("pools.pool_list"))
    audit.record(session, "pool.set", owner=_me(), extra={"pool": pool.pool, "slots": pool.slots})
    session.commit()
    flash(f"Pool {pool.pool} has {pool.slots} slots.", "info")
    return redirect(url_for("pools.pool_list"))


@bp.post("/pools/<name>/delete")
@require_role("Admin")
def delete_pool(name: str) -> ResponseReturnValue:
    session = get_session()
    try:
        deleted = pools.delete_pool(session, name)
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("pools.pool_list"))
    if deleted:
        audit.record(session, "pool.delete", owner=_me(), extra={"pool": name})
        session.commit()
        flash(f"Pool {name} deleted.", "info")
    else:
        flash(f"There is no pool {name}.", "error")
    return redirect(url_for("pools.pool_list"))


def _me() -> str:
    user = current_user()
    assert user is not None
    return user.username
