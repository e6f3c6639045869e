"""The DAGs list (the home page) and the pause toggle.

The page's data comes from ``metastore.dag_overview`` in a fixed number of queries; the view
turns it into rows the template only prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from tradewind.actions import apply as actions
from tradewind.master.webserver.auth import current_user, local_url, require_role
from tradewind.master.webserver.db import get_session
from tradewind.master.webserver.navigation import route_exists
from tradewind.master.webserver.state_colours import RUN_STATE_ORDER, TASK_STATE_ORDER, ordered_counts
from tradewind.master.webserver.views.dag_header import dag_header
from tradewind.metastore import dag_overview, dataset_reads, import_errors
from tradewind.metastore.dag_overview import DagStats, LastRun
from tradewind.metastore.models import DagModel

bp = Blueprint("dags", __name__)
bp.add_app_template_global(dag_header)

PAGE_SIZE = 100
#: Pages of one DAG that other blueprints provide; linked from the list once they exist.
GRID_PATH = "/dags/{dag_id}/grid"
TRIGGER_PATH = "/dags/{dag_id}/trigger"


@dataclass(frozen=True)
class ListArgs:
    """The list's query string: ``?search=…&tags=a&tags=b&paused=true&page=2``."""

    search: str
    tags: tuple[str, ...]
    paused: bool | None
    page: int

    @classmethod
    def parse(cls, args: MultiDict[str, str]) -> ListArgs:
        paused = {"true": True, "false": False}.get(args.get("paused", "").lower())
        try:
            page = max(1, int(args.get("page", "1")))
        except ValueError:
            page = 1
        tags = tuple(dict.fromkeys(t.strip() for t in args.getlist("tags") if t.strip()))
        return cls(args.get("search", "").strip(), tags, paused, page)

    def url(self, **changes: Any) -> str:
        values = {"search": self.search, "tags": self.tags, "paused": self.paused, "page": self.page, **changes}
        query: dict[str, Any] = {}
        if values["search"]:
            query["search"] = values["search"]
        if values["tags"]:
            query["tags"] = list(values["tags"])
        if values["paused"] is not None:
            query["paused"] = "true" if values["paused"] else "false"
        if values["page"] > 1:
            query["page"] = values["page"]
        return url_for("dags.dag_list", **query)


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class DagRow:
    dag_id: str
    display_name: str
    description: str | None
    schedule: str | None
    is_paused: bool
    owners: str | None
    tags: list[Link]
    last_run: LastRun | None
    next_run: datetime | None
    #: For a DAG scheduled on datasets: "1 of 2 datasets updated" since its last dataset-triggered run.
    datasets_updated: str | None
    task_counts: list[tuple[str, int]]
    run_counts: list[tuple[str, int]]
    grid_url: str | None
    trigger_url: str | None


@bp.get("/")
def dag_list() -> ResponseReturnValue:
    args = ListArgs.parse(request.args)
    session = get_session()
    page = dag_overview.list_dag_page(
        session,
        search=args.search,
        tags=args.tags,
        paused=args.paused,
        limit=PAGE_SIZE,
        offset=(args.page - 1) * PAGE_SIZE,
    )
    stats = dag_overview.dag_stats(session, [dag.dag_id for dag in page.dags])
    user = current_user()
    can_edit = user is not None and user.has_role("Op")
    pages_available = {
        "grid": route_exists(GRID_PATH.format(dag_id="_")),
        "trigger": can_edit and route_exists(TRIGGER_PATH.format(dag_id="_")),
    }
    waiting = dataset_reads.waiting_summary(session, [dag.dag_id for dag in page.dags])
    rows = [_row(dag, stats[dag.dag_id], args, pages_available, waiting.get(dag.dag_id)) for dag in page.dags]
    last_page = max(1, -(-page.total // PAGE_SIZE))
    return render_template(
        "dags/list.html",
        rows=rows,
        total=page.total,
        args=args,
        can_edit=can_edit,
        import_errors=import_errors.list_import_errors(session),
        all_tags=dag_overview.all_tags(session),
        active_tags=[Link(tag, args.url(tags=tuple(t for t in args.tags if t != tag), page=1)) for tag in args.tags],
        paused_tabs=[
            Link(label, args.url(paused=value, page=1))
            for label, value in (("All", None), ("Active", False), ("Paused", True))
        ],
        paused_label={None: "All", False: "Active", True: "Paused"}[args.paused],
        clear_url=url_for("dags.dag_list"),
        prev_url=args.url(page=args.page - 1) if args.page > 1 else None,
        next_url=args.url(page=args.page + 1) if args.page < last_page else None,
        page_number=args.page,
        last_page=last_page,
        return_to=request.full_path.rstrip("?"),
    )


@bp.post("/dags/<dag_id>/pause")
@require_role("Op")
def set_paused(dag_id: str) -> ResponseReturnValue:
    """Pause (``is_paused=true``) or unpause (``is_paused=false``) from the list's toggle."""
    paused = _form_bool(request.form, "is_paused")
    user = current_user()
    assert user is not None
    session = get_session()
    actions.set_paused(session, dag_id, paused, owner=user.username, source="ui")
    session.commit()
    flash(f"DAG {dag_id} is {'paused' if paused else 'unpaused'}.", "info")
    return redirect(local_url(request.form.get("next")) or url_for("dags.dag_list"))


def _row(
    dag: DagModel,
    stats: DagStats,
    args: ListArgs,
    pages_available: Mapping[str, bool],
    datasets_waiting: tuple[int, int] | None = None,
) -> DagRow:
    quoted = quote(dag.dag_id, safe="")
    return DagRow(
        dag_id=dag.dag_id,
        display_name=dag.display_name,
        description=dag.description,
        schedule=dag.schedule_description,
        is_paused=dag.is_paused,
        owners=dag.owners,
        tags=[Link(tag, args.url(tags=(tag,), page=1)) for tag in sorted(dag.tags or [])],
        last_run=stats.last_run,
        next_run=next_run(dag),
        datasets_updated=f"{datasets_waiting[0]} of {datasets_waiting[1]} datasets updated"
        if datasets_waiting
        else None,
        task_counts=ordered_counts(stats.task_states, TASK_STATE_ORDER),
        run_counts=ordered_counts(stats.run_states, RUN_STATE_ORDER),
        grid_url=GRID_PATH.format(dag_id=quoted) if pages_available["grid"] else None,
        trigger_url=TRIGGER_PATH.format(dag_id=quoted) if pages_available["trigger"] else None,
    )


def next_run(dag: DagModel) -> datetime | None:
    """When the DAG's next scheduled run is due, as the list shows it: nothing for a paused DAG, nor
    for one with no next interval (``schedule=None``, or ``@once`` after its run) — there the
    scheduler's ``next_dagrun_create_after`` only says when it looks at the DAG again."""
    if dag.is_paused or dag.next_dagrun_data_interval_start is None:
        return None
    return dag.next_dagrun_create_after


def _form_bool(form: Mapping[str, str], name: str) -> bool:
    value = form.get(name, "").lower()
    if value not in ("true", "false"):
        abort(400, description=f"{name} must be true or false, not {form.get(name)!r}")
    return value == "true"
