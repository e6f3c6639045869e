"""The DAG runs list: ``/runs`` (every DAG) and ``/dags/<dag_id>/runs``, filterable by state, with
each run's clear and mark actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import query_int
from tradewind.master.webserver.auth import current_user
from tradewind.master.webserver.db import get_session
from tradewind.metastore import browse
from tradewind.states import DagRunState

bp = Blueprint("runs", __name__)

PAGE_SIZE = 100
STATES = tuple(state.value for state in DagRunState)


def _page() -> int:
    return query_int("page", 1, minimum=1)


def _render(dag_id: str | None) -> str:
    state = request.args.get("state") or None
    if state not in STATES:
        state = None
    page = _page()
    rows, total = browse.runs_page(
        get_session(), dag_id=dag_id, state=state, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    last_page = max(1, -(-total // PAGE_SIZE))
    endpoint = "runs.dag_runs" if dag_id else "runs.all_runs"

    def url(**changes: Any) -> str:
        query: dict[str, Any] = {"state": state, "page": page, **changes}
        values: dict[str, Any] = {k: v for k, v in query.items() if v not in (None, 1)}
        if dag_id:
            values["dag_id"] = dag_id
        return url_for(endpoint, **values)

    user = current_user()
    return render_template(
        "runs/list.html",
        dag_id=dag_id,
        runs=rows,
        total=total,
        state=state,
        state_tabs=[("all", url(state=None, page=1), state is None)]
        + [(s, url(state=s, page=1), state == s) for s in STATES],
        prev_url=url(page=page - 1) if page > 1 else None,
        next_url=url(page=page + 1) if page < last_page else None,
        page_number=page,
        last_page=last_page,
        can_act=user is not None and user.has_role("Op"),
    )


@bp.get("/runs")
def all_runs() -> ResponseReturnValue:
    return _render(None)


@bp.get("/dags/<dag_id>/runs")
def dag_runs(dag_id: str) -> ResponseReturnValue:
    return _render(dag_id)
