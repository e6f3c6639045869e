"""Browse → Task Instances: every task instance across DAGs, filtered by DAG, task, run, state, pool
and queue, newest runs first, each linking to its panel — and bulk actions on the ticked ones, as
Airflow's list has them: clear, mark success, mark failed (each on exactly the instances ticked,
no relatives), shown on a confirmation page first and applied in one transaction."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.actions import apply as actions
from tradewind.actions.plan import ActionOptions
from tradewind.actions.wake import wake_runs
from tradewind.errors import DagNotFound, DagRunNotFound
from tradewind.master.webserver.api import query_choice, query_int
from tradewind.master.webserver.auth import current_user, local_url, require_role
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.master.webserver.views.dag_common import panel_path
from tradewind.metastore.dags import active_dag_ids, load_dag
from tradewind.metastore.searches import Search, search_task_instances
from tradewind.states import TaskInstanceState

bp = Blueprint("task_instance_list", __name__)

PAGE_SIZE = 100
STATES = tuple(state.value for state in TaskInstanceState)
#: action -> (label, what the flash says was done).
BULK_ACTIONS = {
    "clear": ("Clear", "cleared"),
    "success": ("Set state to success", "marked success"),
    "failed": ("Set state to failed", "marked failed"),
}
#: The text filters: query parameter -> the column it matches exactly.
TEXT_FILTERS = ("dag_id", "task_id", "run_id", "pool", "queue")
#: A ticked box's value: dag_id, run_id, task_id and map_index joined by this (none may hold it).
KEY_SEPARATOR = "\x1f"


def _filters() -> dict[str, list[Any]]:
    any_of: dict[str, list[Any]] = {}
    for name in TEXT_FILTERS:
        value = request.args.get(name, "").strip()
        if value:
            any_of[name] = [value]
    if state := query_choice("state", STATES):
        any_of["state"] = [state]
    return any_of


@bp.get("/task-instances")
def task_instance_list() -> ResponseReturnValue:
    any_of = _filters()
    page = query_int("page", 1, minimum=1)
    session = get_session()
    rows, total = search_task_instances(
        session, Search(any_of=any_of, order="-logical_date", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    )
    last_page = max(1, -(-total // PAGE_SIZE))
    shown = {name: values[0] for name, values in any_of.items()}

    def url(**changes: Any) -> str:
        values = {k: v for k, v in {**shown, "page": page, **changes}.items() if v not in (None, 1, "")}
        return url_for("task_instance_list.task_instance_list", **values)

    def panel_url(ti: Any) -> str:
        return panel_path(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)

    user = current_user()
    return render_template(
        "task_instances/list.html",
        rows=rows,
        total=total,
        filters=shown,
        states=STATES,
        dag_ids=active_dag_ids(session),
        panel_url=panel_url,
        prev_url=url(page=page - 1) if page > 1 else None,
        next_url=url(page=page + 1) if page < last_page else None,
        page_number=page,
        last_page=last_page,
        bulk_actions=BULK_ACTIONS,
        separator=KEY_SEPARATOR,
        return_to=request.full_path.rstrip("?"),
        can_act=user is not None and user.has_role("Op"),
    )


def _ticked() -> list[tuple[str, str, str, int]]:
    keys = request.form.getlist("ti")
    if not keys:
        abort(400, description="Tick at least one task instance.")
    found = []
    for key in keys:
        parts = key.split(KEY_SEPARATOR)
        try:
            dag_id, run_id, task_id, raw_index = parts
            map_index = int(raw_index)
        except ValueError:
            abort(400, description=f"{key!r} does not name a task instance")
        found.append((dag_id, run_id, task_id, map_index))
    return list(dict.fromkeys(found))


@bp.post("/task-instances/bulk")
@require_role("Op")
def bulk_action() -> ResponseReturnValue:
    """The ticked task instances and the chosen action: a page saying what will change (nothing
    does), then, confirmed, all of them in one transaction — or none, if a run is gone."""
    action = request.form.get("action", "")
    if action not in BULK_ACTIONS:
        abort(400, description=f"action must be one of {', '.join(BULK_ACTIONS)}, not {action!r}")
    ticked = _ticked()
    session = get_session()
    return_to = local_url(request.form.get("next")) or url_for("task_instance_list.task_instance_list")
    by_run: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for dag_id, run_id, task_id, map_index in ticked:
        by_run[(dag_id, run_id)].append((task_id, map_index))
    confirmed = request.form.get("confirmed") == "1"
    user = current_user()
    assert user is not None
    changes = []
    changed = 0
    try:
        for (dag_id, run_id), instances in by_run.items():
            dag = load_dag(session, dag_id)
            options = ActionOptions(
                task_ids=tuple(dict.fromkeys(task_id for task_id, _ in instances)),
                run_id=run_id,
                map_indexes=tuple(instances),
            )
            plan = actions.plan(session, dag, action, options, lock=confirmed)
            changes.extend(plan.changes)
            if confirmed:
                changed += actions.apply(session, dag_id, plan, options, owner=user.username, source="ui")
    except (DagRunNotFound, DagNotFound) as exc:
        session.rollback()
        abort(404, description=f"{exc} Nothing was changed.")
    except ValueError as exc:
        session.rollback()
        abort(400, description=str(exc))
    if not confirmed:
        return render_template(
            "task_instances/bulk_confirm.html",
            action=action,
            label=BULK_ACTIONS[action][0],
            changes=changes,
            ticked=ticked,
            separator=KEY_SEPARATOR,
            return_to=return_to,
        )
    session.commit()
    wake_runs(get_settings().broker_url, by_run)
    flash(f"{BULK_ACTIONS[action][1]} {changed} task instances", "info")
    return redirect(return_to)
