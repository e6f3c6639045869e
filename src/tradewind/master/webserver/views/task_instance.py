"""The task-instance panel: details, every try, the chosen try's log (its last page, earlier pages
and new lines as JSON, the whole stored log streamed as text or a download), XCom, rendered
template fields, and why the task instance is not running yet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from tradewind.decisions.trigger_rules import UpstreamCounts, Verdict, evaluate
from tradewind.master.webserver import masking
from tradewind.master.webserver.api import query_int
from tradewind.master.webserver.db import get_session, streamed
from tradewind.master.webserver.views.dag_common import action_url, dag_path, tabs
from tradewind.metastore import logs, runs, task_instances, xcoms
from tradewind.metastore.dags import load_dag
from tradewind.metastore.models import TaskInstance, TaskTry
from tradewind.metastore.task_instances import TIKey
from tradewind.sdk.serialization import SerializedDAG, SerializedTask

bp = Blueprint("task_instance", __name__)

#: States in which a task instance has not started its work, so "why not running" is worth saying.
WAITING_STATES = frozenset({"none", "scheduled", "queued", "up_for_retry", "up_for_reschedule", "deferred"})
RUNNING_STATES = frozenset({"running", "queued", "restarting"})
#: Most of a log the panel shows at once, and sends per "earlier output" click or poll.
LOG_PAGE_BYTES = 256 * 1024
#: Larger query integers are refused: the metastore's integer columns cannot hold them, and
#: SQLite cannot even compare them.
_MAX_INT = 2**31 - 1
_VERDICT_TEXT = {
    Verdict.READY: "its trigger rule is met; it waits for the scheduler to queue it (or for a free slot).",
    Verdict.WAIT: "its trigger rule is not met yet: some upstream tasks have not finished.",
    Verdict.SKIP: "its trigger rule can no longer be met; the scheduler will skip it.",
    Verdict.UPSTREAM_FAILED: "an upstream failure makes its trigger rule impossible; it will be upstream_failed.",
}


@dataclass(frozen=True)
class WhyNotRunning:
    trigger_rule: str
    verdict: str
    explanation: str
    #: (upstream task id, its states in this run)
    upstream: list[tuple[str, str]]


@bp.get("/dags/<dag_id>/runs/<run_id>/tasks/<task_id>")
def panel(dag_id: str, run_id: str, task_id: str) -> ResponseReturnValue:
    session = get_session()
    dag, task, ti = _find(session, dag_id, run_id, task_id)
    key = TIKey(dag_id, run_id, task_id, ti.map_index)
    tries = task_instances.list_tries(session, key)
    try_number = _try_number(ti, tries)
    chosen = next((t for t in tries if t.try_number == try_number), None)
    log_page = logs.read_log_page(session, key, try_number, max_bytes=LOG_PAGE_BYTES) if try_number > 0 else None
    rendered = chosen.rendered_fields if chosen is not None else None
    if rendered is None and try_number == ti.try_number:
        rendered = ti.rendered_fields
    base = dag_path(dag_id, "runs", run_id, "tasks", task_id)
    query = f"?map_index={ti.map_index}&try={try_number}"
    template = "dag_pages/ti_partial.html" if request.args.get("partial") == "1" else "dag_pages/task_instance.html"
    return render_template(
        template,
        dag_id=dag_id,
        dag=dag,
        dag_display_name=dag.dag_display_name,
        run_id=run_id,
        task=task,
        ti=ti,
        tabs=tabs(dag_id, "", run_id),
        tries=tries,
        try_number=try_number,
        try_urls={t.try_number: f"{base}?map_index={ti.map_index}&try={t.try_number}" for t in tries},
        log_page=log_page,
        log_page_kib=LOG_PAGE_BYTES // 1024,
        tailing=ti.state in RUNNING_STATES and try_number == ti.try_number,
        log_url=f"{base}/log{query}",
        download_url=f"{base}/log{query}&download=1",
        tail_url=f"{base}/log/tail{query}",
        page_url=f"{base}/log/page{query}",
        xcoms=[
            (x.key, _pretty(masking.xcom_value(x.key, x.value, x.display_value)))
            for x in xcoms.list_xcoms(session, dag_id, run_id, task_id)
            if x.map_index == ti.map_index
        ],
        rendered=[(name, _pretty(value)) for name, value in sorted((rendered or {}).items())],
        why=_why_not_running(session, dag, task, ti) if ti.state in WAITING_STATES else None,
        grid_url=dag_path(dag_id, "grid"),
        graph_url=f"{dag_path(dag_id, 'graph')}?{urlencode({'run_id': run_id})}",
        actions=_actions(dag_id, run_id, task_id, ti.map_index),
        mapped=_mapped_instances(session, task, ti, base),
        mapped_actions=_mapped_actions(dag_id, run_id, task_id) if getattr(task, "is_mapped", False) else [],
    )


@bp.get("/dags/<dag_id>/runs/<run_id>/tasks/<task_id>/log")
def log(dag_id: str, run_id: str, task_id: str) -> ResponseReturnValue:
    """The try's whole stored log as text/plain, streamed as it is read; ``?download=1`` makes it
    an attachment."""
    session = get_session()
    _, _, ti = _find(session, dag_id, run_id, task_id)
    key = TIKey(dag_id, run_id, task_id, ti.map_index)
    try_number = _try_number(ti, None)
    response = Response(streamed(lambda stream: logs.iter_log(stream, key, try_number)), mimetype="text/plain")
    if request.args.get("download") in ("1", "true"):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{dag_id}__{run_id}__{task_id}")
        response.headers["Content-Disposition"] = f'attachment; filename="{safe}__{try_number}.log"'
    return response


@bp.get("/dags/<dag_id>/runs/<run_id>/tasks/<task_id>/log/tail")
def log_tail(dag_id: str, run_id: str, task_id: str) -> ResponseReturnValue:
    """``{"text", "last_seq", "skipped", "state", "running"}``: the log after chunk ``after_seq``
    (its last page when there is more; ``skipped`` when some of it is not in ``text``)."""
    session = get_session()
    _, _, ti = _find(session, dag_id, run_id, task_id)
    after_seq = query_int("after_seq", -1, minimum=-1, maximum=_MAX_INT)
    try_number = _try_number(ti, None)
    update = logs.read_log_after(
        session, TIKey(dag_id, run_id, task_id, ti.map_index), try_number, after_seq, max_bytes=LOG_PAGE_BYTES
    )
    return jsonify(
        text=update.text,
        last_seq=update.last_seq,
        skipped=update.skipped,
        state=ti.state,
        running=ti.state in RUNNING_STATES and try_number == ti.try_number,
    )


@bp.get("/dags/<dag_id>/runs/<run_id>/tasks/<task_id>/log/page")
def log_page(dag_id: str, run_id: str, task_id: str) -> ResponseReturnValue:
    """``{"text", "start_seq", "start_offset", "at_start"}``: the page of the log before the
    position ``before_seq``/``before_offset`` (a page's start), to show earlier output."""
    session = get_session()
    _, _, ti = _find(session, dag_id, run_id, task_id)
    before = logs.LogPosition(
        query_int("before_seq", _MAX_INT, maximum=_MAX_INT), query_int("before_offset", 0, maximum=_MAX_INT)
    )
    try_number = _try_number(ti, None)
    page = logs.read_log_page(
        session, TIKey(dag_id, run_id, task_id, ti.map_index), try_number, max_bytes=LOG_PAGE_BYTES, before=before
    )
    start = page.start or before
    return jsonify(text=page.text, start_seq=start.seq, start_offset=start.offset, at_start=page.at_start)


def _find(
    session: Session, dag_id: str, run_id: str, task_id: str
) -> tuple[SerializedDAG, SerializedTask, TaskInstance]:
    dag = load_dag(session, dag_id)
    runs.get_run(session, dag_id, run_id)
    if not dag.has_task(task_id):
        abort(404, description=f"DAG {dag_id!r} has no task {task_id!r}.")
    map_index = query_int("map_index", -1, minimum=-1)
    ti = task_instances.get_ti(session, dag_id, run_id, task_id, map_index)
    if ti is None and "map_index" not in request.args:
        # A mapped task that was expanded: its first instance (the panel lists them all).
        ti = next(
            (
                row
                for row in task_instances.get_tis(session, dag_id, run_id)
                if row.task_id == task_id and row.map_index >= 0
            ),
            None,
        )
    if ti is None:
        abort(
            404,
            description=f"Run {run_id!r} of DAG {dag_id!r} has no task instance {task_id!r} (map index {map_index}).",
        )
    return dag, dag.get_task(task_id), ti


def _try_number(ti: TaskInstance, tries: list[TaskTry] | None) -> int:
    value = request.args.get("try")
    if not value:
        return ti.try_number
    number = query_int("try", 0)
    if number < 1 or number > max(ti.try_number, max((t.try_number for t in tries or []), default=0)):
        abort(404, description=f"Task instance {ti.task_id!r} has no try {number}.")
    return number


def _why_not_running(session: Session, dag: SerializedDAG, task: SerializedTask, ti: TaskInstance) -> WhyNotRunning:
    upstream_ids = sorted(task.upstream_task_ids)
    found = task_instances.states_of(session, ti.dag_id, ti.run_id, upstream_ids)
    states = [state for task_id in upstream_ids for state in found.get(task_id, [])]
    rule = str(getattr(task, "trigger_rule", None) or "all_success")
    verdict = evaluate(rule, UpstreamCounts.from_states(states))
    if ti.state == "queued":
        explanation = "it is queued: it waits for a worker to pick it up."
    elif ti.state == "up_for_retry":
        explanation = f"it waits for its retry{f' at {ti.retry_at:%Y-%m-%d %H:%M:%S}' if ti.retry_at else ''}."
    elif ti.state == "up_for_reschedule":
        explanation = "it is a sensor in reschedule mode, waiting for its next poke."
    elif ti.state == "deferred":
        explanation = "it is deferred: a triggerer runs its trigger, and it resumes on a worker when the trigger fires."
    else:
        explanation = _VERDICT_TEXT[verdict]
    upstream = [(task_id, ", ".join(found.get(task_id, [])) or "no task instance") for task_id in upstream_ids]
    return WhyNotRunning(rule, verdict.value, explanation, upstream)


def _actions(dag_id: str, run_id: str, task_id: str, map_index: int) -> list[tuple[str, str]]:
    """Clear and mark this task instance (one mapped instance, when it is one)."""
    one = {"map_index": map_index} if map_index >= 0 else {}
    suffix = f" [{map_index}]" if map_index >= 0 else ""
    found = [
        (f"Clear{suffix}", action_url(dag_path(dag_id, "clear"), run_id=run_id, task_id=task_id, map_index=map_index)),
        (
            f"Mark{suffix} success",
            action_url(dag_path(dag_id, "mark"), state="success", run_id=run_id, task_id=task_id, **one),
        ),
        (
            f"Mark{suffix} failed",
            action_url(dag_path(dag_id, "mark"), state="failed", run_id=run_id, task_id=task_id, **one),
        ),
    ]
    return [(label, url) for label, url in found if url]


def _mapped_actions(dag_id: str, run_id: str, task_id: str) -> list[tuple[str, str]]:
    """Clear and mark every mapped instance of the task in the run at once."""
    found = [
        ("Clear all mapped", action_url(dag_path(dag_id, "clear"), run_id=run_id, task_id=task_id)),
        ("Mark all success", action_url(dag_path(dag_id, "mark"), state="success", run_id=run_id, task_id=task_id)),
        ("Mark all failed", action_url(dag_path(dag_id, "mark"), state="failed", run_id=run_id, task_id=task_id)),
    ]
    return [(label, url) for label, url in found if url]


@dataclass(frozen=True)
class MappedInstance:
    map_index: int
    state: str
    try_number: int
    duration: float | None
    url: str
    log_url: str


def _mapped_instances(session: Session, task: SerializedTask, ti: TaskInstance, base: str) -> list[MappedInstance]:
    """Every task instance of a mapped task in the run, by map index, with links to each one's log."""
    if not getattr(task, "is_mapped", False):
        return []
    return [
        MappedInstance(
            row.map_index,
            row.state,
            row.try_number,
            row.duration,
            f"{base}?map_index={row.map_index}",
            f"{base}/log?map_index={row.map_index}&try={row.try_number}" if row.try_number else "",
        )
        for row in task_instances.get_tis(session, ti.dag_id, ti.run_id)
        if row.task_id == ti.task_id and row.map_index >= 0
    ]


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)
