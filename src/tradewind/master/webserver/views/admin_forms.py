"""What every Admin page's form post does once the metastore has answered: back to the page's list
with the refusal; or record the change in the audit log under the user, commit, and back to the
list saying what was done. Deleting a keyed secret row (a connection, a variable) is wholly shared.

Every delete asks first: the list's Delete button posts without ``confirmed=yes`` and gets a page
saying what will go, whose own button posts again with it. The confirmation is the server's, so it
holds without JavaScript and for any form or script that posts the first step only."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from tradewind.master.webserver.auth import current_username
from tradewind.master.webserver.db import get_session
from tradewind.metastore import audit
from tradewind.metastore.keyed_rows import KeyedRows


def refused(list_endpoint: str, reason: str | Exception) -> ResponseReturnValue:
    """Back to the list, showing why nothing was changed."""
    flash(str(reason), "error")
    return redirect(url_for(list_endpoint))


def recorded(list_endpoint: str, session: Session, event: str, extra: dict[str, Any], done: str) -> ResponseReturnValue:
    """Audit the change made in ``session``, commit it, and go back to the list saying ``done``."""
    audit.record(session, event, owner=current_username(), extra=extra)
    session.commit()
    flash(done, "info")
    return redirect(url_for(list_endpoint))


#: The form field that says the person has seen the confirmation page.
CONFIRM_FIELD = "confirmed"


def confirm_first(list_endpoint: str, noun: str, key: str) -> ResponseReturnValue | None:
    """The "Delete {noun} {key}?" page, until this request says ``confirmed=yes``; None then."""
    if request.form.get(CONFIRM_FIELD) == "yes":
        return None
    return render_template(
        "admin_forms/confirm_delete.html",
        noun=noun,
        key=key,
        action_url=request.path,
        cancel_url=url_for(list_endpoint),
        confirm_field=CONFIRM_FIELD,
    )


def delete_keyed(list_endpoint: str, rows: KeyedRows[Any, Any], key: str) -> ResponseReturnValue:
    """Delete the row named ``key`` once confirmed: "Connection db deleted.", or why not."""
    if (page := confirm_first(list_endpoint, rows.noun, key)) is not None:
        return page
    session = get_session()
    try:
        rows.delete(session, key)
    except rows.not_found as exc:
        return refused(list_endpoint, exc)
    done = f"{rows.noun.capitalize()} {key} deleted."
    return recorded(list_endpoint, session, f"{rows.noun}.delete", {rows.key: key}, done)
