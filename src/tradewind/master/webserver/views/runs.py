"""The DAG runs list: ``/runs`` (every DAG) and ``/dags/<dag_id>/runs``, filtered by DAG, state and
run type as Airflow's Browse → DAG Runs is, each run's conf (masked) and a link to it, its clear and
mark actions, and bulk actions on the runs ticked: clear, mark success, mark failed and delete —
each shown on a confirmation page first, then applied in one transaction."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.actions import apply as actions
from tradewind.actions.wake import wake_runs
from tradewind.errors import DagNotFound, DagRunNotFound
from tradewind.master.webserver import masking
from tradewind.master.webserver.api import query_choice, query_int
from tradewind.master.webserver.auth import current_user, local_url, require_role
from tradewind.master.webserver.db import get_session, get_settings
from tradewind.master.webserver.views.dag_common import dag_path, tabs
from tradewind.metastore import runs as run_rows
from tradewind.metastore.dags import active_dag_ids, load_dag
from tradewind.metastore.searches import Search, search_runs
from tradewind.states import DagRunState, DagRunType

bp = Blueprint("runs", __name__)

PAGE_SIZE = 100
STATES = tuple(state.value for state in DagRunState)
RUN_TYPES = tuple(run_type.value for run_type in DagRunType)
#: The bulk actions, as Airflow's DAG Runs list offers them: action -> (label, verb for the flash).
BULK_ACTIONS = {
    "clear": ("Clear the state", "cleared"),
    "success": ("Set state to success", "marked success"),
    "failed": ("Set state to failed", "marked failed"),
    "delete": ("Delete", "deleted"),
}
#: Between a run's DAG id and run id in a ticked box's value (neither may hold it).
RUN_KEY_SEPARATOR = "/"


def conf_text(conf: Any) -> str:
    """A run's conf as one line of JSON, secrets masked as everywhere else."""
    if not conf:
        return ""
    return json.dumps(masking.details(conf), sort_keys=True, default=str)


def _render(fixed_dag_id: str | None) -> str:
    state = query_choice("state", STATES)
    run_type = query_choice("run_type", RUN_TYPES)
    dag_id = fixed_dag_id or (request.args.get("dag_id", "").strip() or None)
    page = query_int("page", 1, minimum=1)
    any_of: dict[str, list[Any]] = {}
    if dag_id:
        any_of["dag_id"] = [dag_id]
    if state:
        any_of["state"] = [state]
    if run_type:
        any_of["run_type"] = [run_type]
    session = get_session()
    rows, total = search_runs(
        session, Search(any_of=any_of, order="-logical_date", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    )
    last_page = max(1, -(-total // PAGE_SIZE))
    endpoint = "runs.dag_runs" if fixed_dag_id else "runs.all_runs"

    def url(**changes: Any) -> str:
        query: dict[str, Any] = {"state": state, "run_type": run_type, "page": page, **changes}
        if not fixed_dag_id:
            query["dag_id"] = dag_id
        values: dict[str, Any] = {k: v for k, v in query.items() if v not in (None, 1)}
        if fixed_dag_id:
            values["dag_id"] = fixed_dag_id
        return url_for(endpoint, **values)

    user = current_user()
    return render_template(
        "runs/list.html",
        dag_id=fixed_dag_id,
        dag_filter=dag_id,
        dag_ids=[] if fixed_dag_id else active_dag_ids(session),
        runs=rows,
        total=total,
        state=state,
        run_type=run_type,
        states=STATES,
        run_types=RUN_TYPES,
        state_tabs=[("all", url(state=None, page=1), state is None)]
        + [(s, url(state=s, page=1), state == s) for s in STATES],
        prev_url=url(page=page - 1) if page > 1 else None,
        next_url=url(page=page + 1) if page < last_page else None,
        page_number=page,
        last_page=last_page,
        conf_text=conf_text,
        run_url=lambda run: url_for("runs.run_details", dag_id=run.dag_id, run_id=run.run_id),
        bulk_actions=BULK_ACTIONS,
        separator=RUN_KEY_SEPARATOR,
        return_to=request.full_path.rstrip("?"),
        can_act=user is not None and user.has_role("Op"),
    )


@bp.get("/dags/<dag_id>/runs/<run_id>")
def run_details(dag_id: str, run_id: str) -> ResponseReturnValue:
    """One run: state, type, dates, duration, data interval, conf (masked), note, and its actions;
    ``?partial=1`` gives only the details, for the grid's side panel."""
    session = get_session()
    dag = load_dag(session, dag_id)
    run = run_rows.get_run(session, dag_id, run_id)
    duration = (run.end_date - run.start_date).total_seconds() if run.start_date and run.end_date else None
    quoted: dict[str, Any] = {"dag_id": dag_id, "run_id": run_id}
    user = current_user()
    context = {
        "dag_id": dag_id,
        "dag": dag,
        "dag_display_name": dag.dag_display_name,
        "run": run,
        "duration": duration,
        "conf": json.dumps(masking.details(run.conf or {}), indent=2, sort_keys=True, default=str),
        "actions": [
            ("Clear", url_for("actions.run_clear_preview", **quoted)),
            ("Clear failed", url_for("actions.run_clear_preview", only_failed="true", **quoted)),
            ("Mark success", url_for("actions.run_mark_preview", state="success", **quoted)),
            ("Mark failed", url_for("actions.run_mark_preview", state="failed", **quoted)),
        ]
        if user is not None and user.has_role("Op")
        else [],
        "graph_url": dag_path(dag_id, "graph") + "?" + urlencode({"run_id": run_id}),
        "gantt_url": dag_path(dag_id, "gantt") + "?" + urlencode({"run_id": run_id}),
        "tabs": tabs(dag_id, "", run_id),
    }
    template = "runs/details_partial.html" if request.args.get("partial") == "1" else "runs/details.html"
    return render_template(template, **context)


@bp.get("/runs")
def all_runs() -> ResponseReturnValue:
    return _render(None)


@bp.get("/dags/<dag_id>/runs")
def dag_runs(dag_id: str) -> ResponseReturnValue:
    return _render(dag_id)


def _ticked_runs() -> list[tuple[str, str]]:
    keys = request.form.getlist("run")
    if not keys:
        abort(400, description="Tick at least one run.")
    found = []
    for key in keys:
        dag_id, separator, run_id = key.partition(RUN_KEY_SEPARATOR)
        if not separator or not dag_id or not run_id:
            abort(400, description=f"{key!r} does not name a run as <dag_id>{RUN_KEY_SEPARATOR}<run_id>")
        found.append((dag_id, run_id))
    return list(dict.fromkeys(found))


@bp.post("/runs/bulk")
@require_role("Op")
def bulk_action() -> ResponseReturnValue:
    """The ticked runs and the chosen action: first a page saying what will happen (nothing
    changes), then, confirmed, every run changed in one transaction — or none, if one is gone."""
    action = request.form.get("action", "")
    if action not in BULK_ACTIONS:
        abort(400, description=f"action must be one of {', '.join(BULK_ACTIONS)}, not {action!r}")
    ticked = _ticked_runs()
    session = get_session()
    return_to = local_url(request.form.get("next")) or url_for("runs.all_runs")
    if request.form.get("confirmed") != "1":
        found = []
        for dag_id, run_id in ticked:
            try:
                found.append(run_rows.get_run(session, dag_id, run_id))
            except DagRunNotFound as exc:
                abort(404, description=str(exc))
        return render_template(
            "runs/bulk_confirm.html",
            action=action,
            label=BULK_ACTIONS[action][0],
            runs=found,
            separator=RUN_KEY_SEPARATOR,
            return_to=return_to,
        )
    user = current_user()
    assert user is not None
    changed = 0
    try:
        for dag_id, run_id in ticked:
            if action == "delete":
                actions.delete_run(session, dag_id, run_id, owner=user.username, source="ui")
            else:
                # Clearing a whole run is setting it to queued (``plan_run_state``), as Airflow's list does.
                state = "queued" if action == "clear" else action
                changed += actions.set_run_state(session, dag_id, run_id, state, owner=user.username, source="ui")
    except (DagRunNotFound, DagNotFound) as exc:
        session.rollback()
        abort(404, description=f"{exc} Nothing was changed.")
    session.commit()
    wake_runs(get_settings().broker_url, ticked)
    verb = BULK_ACTIONS[action][1]
    extra = "" if action == "delete" else f" ({changed} task instances changed)"
    flash(f"{verb} {len(ticked)} run(s){extra}", "info")
    return redirect(return_to)
