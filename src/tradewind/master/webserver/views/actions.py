"""The action pages: clear, mark success / failed (of task instances or whole runs) and trigger.

Each action is a GET that shows what it will change (anyone may look) and a POST that changes it
(Op and above, with the CSRF token). Both compute the change with ``actions.apply.plan``,
which the REST API calls too, so a preview and what is applied never disagree.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from tradewind.actions import apply as actions
from tradewind.actions.plan import ActionOptions, ActionPlan
from tradewind.actions.wake import wake_schedulers
from tradewind.errors import DagRunAlreadyExists, InvalidInput, NotAJsonObject, ParamValidationError
from tradewind.master.webserver.auth import current_user, require_role
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.master.webserver.navigation import route_exists
from tradewind.master.webserver.trigger_fields import FIELDS_SHOWN, build_fields, read_fields
from tradewind.master.webserver.views.dag_common import task_rows
from tradewind.metastore import dags
from tradewind.sdk.json_object import parse_json_object

logger = logging.getLogger(__name__)

bp = Blueprint("actions", __name__)

#: The checkboxes of a task instance's clear / mark form.
OPTION_FLAGS = ("upstream", "downstream", "recursive", "past", "future", "only_failed")
#: What Airflow's "Clear" dialog of a task instance has ticked when it opens: clearing a fixed task
#: also clears what it left upstream_failed, so the run can recover. (The CLI's flags stay off.)
CLEAR_DEFAULTS = frozenset({"downstream", "recursive"})
#: Sent by the options forms: the flags were chosen by hand, so an unticked box means off.
CHOSEN_FIELD = "options_chosen"
_TRUE = frozenset({"true", "on", "1", "yes"})
_VERB = {"clear": "cleared", "success": "marked success", "failed": "marked failed"}


def parse_options(
    values: MultiDict[str, str],
    *,
    run_id: str | None = None,
    whole_run: bool = False,
    defaults: frozenset[str] = frozenset(),
) -> ActionOptions:
    """The action's options from a query string or form (``run_id``, ``task_id``, ``map_index``
    and the flags); 400 for a malformed one. Until the options form has been sent (``CHOSEN_FIELD``),
    the flags in ``defaults`` are on as well, as in Airflow's dialog when it opens."""
    task_ids = tuple(t for t in values.getlist("task_id") if t) or None
    if group_id := values.get("group_id"):
        # A whole task group (the grid's group box): its tasks, at any depth, as Airflow's grid does.
        task_ids = (*(task_ids or ()), *group_members(group_id))
    if whole_run:
        task_ids = None
    raw_index = values.get("map_index", "")
    try:
        map_index = int(raw_index) if raw_index != "" else None
    except ValueError:
        abort(400, description=f"map_index must be a whole number, not {raw_index!r}")
    flags: dict[str, Any] = {name: values.get(name, "").lower() in _TRUE for name in OPTION_FLAGS}
    if CHOSEN_FIELD not in values:
        flags |= {name: True for name in defaults}
    if whole_run:
        flags = {name: False for name in OPTION_FLAGS} | {"only_failed": flags["only_failed"]}
    return ActionOptions(
        task_ids=task_ids,
        run_id=run_id or values.get("run_id") or None,
        map_index=map_index if task_ids else None,
        **flags,
    )


def group_members(group_id: str) -> tuple[str, ...]:
    """The task ids under task group ``group_id`` of the DAG the request names; 400 for no such group."""
    dag_id = (request.view_args or {}).get("dag_id", "")
    dag = dags.load_dag(get_session(), dag_id)
    for row in task_rows(dag):
        if row.is_group and row.row_id == group_id:
            return row.members
    abort(400, description=f"DAG {dag_id!r} has no task group {group_id!r}")


def mark_state(values: MultiDict[str, str]) -> str:
    state = values.get("state", "")
    if state not in ("success", "failed"):
        abort(400, description=f"state must be success or failed, not {state!r}")
    return state


def preview(dag_id: str, kind: str, options: ActionOptions, *, whole_run: bool = False) -> ActionPlan:
    """The plan for the page; 404 for an unknown DAG or run, 400 for an unknown task. Marking a
    whole run is ``set_run_state``'s plan, the one its POST applies."""
    session = get_session()
    dag = dags.load_dag(session, dag_id)
    try:
        if whole_run and kind != "clear" and options.run_id is not None:
            return actions.plan_run(session, dag, options.run_id, kind)
        return actions.plan(session, dag, kind, options)
    except ValueError as exc:
        abort(400, description=str(exc))


def run_action(dag_id: str, kind: str, options: ActionOptions, *, source: str) -> tuple[ActionPlan, int]:
    """Plan under the runs' locks, apply, commit and wake the schedulers; (plan, changed count)."""
    user = current_user()
    assert user is not None
    session = get_session()
    try:
        plan = actions.plan(session, dags.load_dag(session, dag_id), kind, options, lock=True)
    except ValueError as exc:
        abort(400, description=str(exc))
    changed = actions.apply(session, dag_id, plan, options, owner=user.username, source=source)
    session.commit()
    wake_schedulers(get_settings().broker_url, dag_id, plan.run_ids)
    return plan, changed


def after_action_url(dag_id: str) -> str:
    for path in (f"/dags/{dag_id}/grid", f"/dags/{dag_id}/runs"):
        if route_exists(path):
            return path
    return url_for("dags.dag_list")


def _confirm_page(dag_id: str, kind: str, options: ActionOptions, *, action_url: str, whole_run: bool) -> str:
    plan = preview(dag_id, kind, options, whole_run=whole_run)
    user = current_user()
    hidden: list[tuple[str, str]] = [("task_id", t) for t in options.task_ids or ()]
    if options.run_id and not whole_run:
        hidden.append(("run_id", options.run_id))
    if options.map_index is not None:
        hidden.append(("map_index", str(options.map_index)))
    if kind != "clear":
        hidden.append(("state", kind))
    flags = {name: getattr(options, name) for name in OPTION_FLAGS}
    if whole_run:
        # Marking a whole run follows Airflow's fixed rule (``plan_run_state``): it has no options.
        flags = {"only_failed": options.only_failed} if kind == "clear" else {}
    return render_template(
        "actions/confirm.html",
        dag_id=dag_id,
        kind=kind,
        verb=_VERB[kind],
        options=options,
        plan=plan,
        hidden=hidden,
        flags=flags,
        options_on=[name.replace("_", " ") for name, checked in flags.items() if checked],
        chosen_field=CHOSEN_FIELD,
        action_url=action_url,
        whole_run=whole_run,
        can_act=user is not None and user.has_role("Op"),
        # Marking a whole run sets the run's own state even when no task instance changes.
        can_confirm=bool(plan.changes) or (whole_run and kind != "clear"),
    )


def _done(dag_id: str, kind: str, changed: int) -> ResponseReturnValue:
    flash(f"{_VERB[kind]} {changed} task instances", "info")
    return redirect(after_action_url(dag_id))


@bp.get("/dags/<dag_id>/clear")
def clear_preview(dag_id: str) -> ResponseReturnValue:
    options = parse_options(request.args, defaults=CLEAR_DEFAULTS)
    return _confirm_page(dag_id, "clear", options, action_url=request.path, whole_run=False)


@bp.post("/dags/<dag_id>/clear")
@require_role("Op")
def clear_apply(dag_id: str) -> ResponseReturnValue:
    options = parse_options(request.form, defaults=CLEAR_DEFAULTS)
    _plan, changed = run_action(dag_id, "clear", options, source="ui")
    return _done(dag_id, "clear", changed)


@bp.get("/dags/<dag_id>/mark")
def mark_preview(dag_id: str) -> ResponseReturnValue:
    state = mark_state(request.args)
    return _confirm_page(dag_id, state, parse_options(request.args), action_url=request.path, whole_run=False)


@bp.post("/dags/<dag_id>/mark")
@require_role("Op")
def mark_apply(dag_id: str) -> ResponseReturnValue:
    state = mark_state(request.form)
    _plan, changed = run_action(dag_id, state, parse_options(request.form), source="ui")
    return _done(dag_id, state, changed)


@bp.get("/dags/<dag_id>/runs/<run_id>/clear")
def run_clear_preview(dag_id: str, run_id: str) -> ResponseReturnValue:
    options = parse_options(request.args, run_id=run_id, whole_run=True)
    return _confirm_page(dag_id, "clear", options, action_url=request.path, whole_run=True)


@bp.post("/dags/<dag_id>/runs/<run_id>/clear")
@require_role("Op")
def run_clear_apply(dag_id: str, run_id: str) -> ResponseReturnValue:
    options = parse_options(request.form, run_id=run_id, whole_run=True)
    _plan, changed = run_action(dag_id, "clear", options, source="ui")
    return _done(dag_id, "clear", changed)


@bp.get("/dags/<dag_id>/runs/<run_id>/mark")
def run_mark_preview(dag_id: str, run_id: str) -> ResponseReturnValue:
    state = mark_state(request.args)
    options = parse_options(request.args, run_id=run_id, whole_run=True)
    return _confirm_page(dag_id, state, options, action_url=request.path, whole_run=True)


@bp.post("/dags/<dag_id>/runs/<run_id>/mark")
@require_role("Op")
def run_mark_apply(dag_id: str, run_id: str) -> ResponseReturnValue:
    state = mark_state(request.form)
    user = current_user()
    assert user is not None
    session = get_session()
    changed = actions.set_run_state(session, dag_id, run_id, state, owner=user.username, source="ui")
    session.commit()
    wake_schedulers(get_settings().broker_url, dag_id, [run_id])
    return _done(dag_id, state, changed)


# --- trigger ----------------------------------------------------------------------------------------


def parse_conf(text: str) -> dict[str, Any]:
    """A conf typed into the form; ``ParamValidationError`` when it is not a JSON object."""
    if not text.strip():
        return {}
    try:
        return parse_json_object(text, "conf")
    except NotAJsonObject as exc:
        raise ParamValidationError(f"{exc}, not {exc.found}" if exc.found else str(exc)) from None


def parse_form_date(text: str) -> datetime | None:
    """The form's logical date (ISO 8601, UTC unless it says otherwise); ``InvalidInput`` if malformed."""
    text = text.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"logical date {text!r} is not a date and time such as 2024-01-01T06:00") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _trigger_form(
    dag_id: str,
    dag: Any,
    *,
    conf_text: str,
    run_id: str = "",
    logical_date: str = "",
    values: dict[str, Any] | None = None,
    field_errors: dict[str, list[str]] | None = None,
    error: str | None = None,
) -> str:
    user = current_user()
    return render_template(
        "actions/trigger.html",
        dag_id=dag_id,
        conf_text=conf_text,
        run_id=run_id,
        logical_date=logical_date,
        error=error,
        fields=build_fields(dag.params.items(), values, field_errors),
        fields_shown=FIELDS_SHOWN,
        can_act=user is not None and user.has_role("Op"),
    )


@bp.get("/dags/<dag_id>/trigger")
def trigger_form(dag_id: str) -> ResponseReturnValue:
    dag = dags.load_dag(get_session(), dag_id)
    # The fields hold the params' defaults; the JSON starts empty and holds what they don't cover.
    return _trigger_form(dag_id, dag, conf_text="{}")


@bp.post("/dags/<dag_id>/trigger")
@require_role("Op")
def trigger_submit(dag_id: str) -> ResponseReturnValue:
    """Trigger from the form: the params' fields (when the form drew them), with the raw JSON conf
    merged over them, so keys no param declares stay available. Every field's problems are shown
    next to it, all at once; nothing is created until all fit."""
    session = get_session()
    dag = dags.load_dag(session, dag_id)
    conf_text = request.form.get("conf", "")
    run_id = request.form.get("run_id", "").strip()
    date_text = request.form.get("logical_date", "")
    values: dict[str, Any] = {}
    field_errors: dict[str, list[str]] = {}
    if request.form.get(FIELDS_SHOWN):
        values, field_errors = read_fields(dag.params.items(), request.form)

    def refused(message: str | None, status: int = 400) -> ResponseReturnValue:
        session.rollback()
        page = _trigger_form(
            dag_id,
            dag,
            conf_text=conf_text,
            run_id=run_id,
            logical_date=date_text,
            values=values,
            field_errors=field_errors,
            error=message,
        )
        return page, status

    if field_errors:
        return refused(f"{len(field_errors)} field(s) need a change: " + ", ".join(sorted(field_errors)))
    user = current_user()
    assert user is not None
    try:
        conf = {**values, **parse_conf(conf_text)}
        run = actions.trigger_dag(
            session,
            dag_id,
            conf=conf,
            run_id=run_id or None,
            logical_date=parse_form_date(date_text),
            owner=user.username,
            source="ui",
        )
    except (ParamValidationError, InvalidInput, DagRunAlreadyExists) as exc:
        return refused(str(exc), 409 if isinstance(exc, DagRunAlreadyExists) else 400)
    session.commit()
    wake_schedulers(get_settings().broker_url, dag_id, [run.run_id])
    flash(f"triggered {dag_id}: run {run.run_id}", "info")
    return redirect(after_action_url(dag_id))
