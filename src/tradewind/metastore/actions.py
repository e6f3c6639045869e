"""Reading the inputs of a person's clear / mark and writing its outcome, for the pages and the API.

What changes is decided purely by ``tradewind.master.actions.mark.plan_action``; ``plan`` reads the
runs and task instances it needs (locking the runs when the plan is about to be applied, so a
scheduler never decides about them at the same time) and ``apply`` writes the plan in the caller's
transaction with one audit-log row. The caller commits, then wakes the schedulers.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from tradewind.master.actions.clear import RunRef, TIRef
from tradewind.master.actions.mark import ActionOptions, ActionPlan, plan_action
from tradewind.metastore import audit, clearing, runs, task_instances
from tradewind.states import DagRunState


def plan(session: Session, dag: Any, kind: str, options: ActionOptions, *, lock: bool = False) -> ActionPlan:
    """The plan of ``kind`` on ``dag`` (a deserialized DAG) as the metastore holds it now.

    Raises ``DagRunNotFound`` when ``options.run_id`` names no run, ValueError for a bad option."""
    if options.run_id is not None:
        runs.get_run(session, dag.dag_id, options.run_id)
    run_rows = clearing.runs_between(session, dag.dag_id, lock=lock)
    run_refs = [RunRef(r.run_id, r.logical_date, r.state) for r in run_rows]
    if options.run_id is not None and not (options.past or options.future):
        run_refs = [r for r in run_refs if r.run_id == options.run_id]
    ti_refs = [
        TIRef(t.run_id, t.task_id, t.map_index, t.state, t.try_number)
        for t in clearing.task_instances_of(session, dag.dag_id, [r.run_id for r in run_refs])
    ]
    return plan_action(kind, dag, run_refs, ti_refs, options)


def apply(
    session: Session,
    dag_id: str,
    action: ActionPlan,
    options: ActionOptions,
    *,
    owner: str,
    source: str,
    now: datetime | None = None,
) -> int:
    """Write ``action`` (planned with ``lock=True`` in this transaction); returns how many task
    instances changed. Each change is a compare-and-set from the state the plan read."""
    now = now or datetime.now(UTC)
    by_run: dict[str, list[task_instances.Change]] = defaultdict(list)
    for change in action.changes:
        fields: dict[str, Any] = {}
        if change.max_tries is not None:
            fields = {"max_tries": change.max_tries, "retry_at": None, "next_poke_at": None, "first_poke_at": None}
        by_run[change.run_id].append((change.task_id, change.map_index, change.from_state, change.to_state, fields))
    changed = 0
    for run_id, changes in by_run.items():
        changed += task_instances.transition_many(session, dag_id, run_id, changes, manual=True, now=now)
    for run in clearing.runs_between(session, dag_id, run_ids=action.reopen_run_ids):
        if DagRunState(run.state) in (DagRunState.SUCCESS, DagRunState.FAILED):
            runs.set_run_state(session, run, action.reopen_state, now=now)
    event = "clear" if action.kind == "clear" else f"mark_{action.kind}"
    single = options.task_ids is not None and len(options.task_ids) == 1
    audit.record(
        session,
        event,
        owner=owner,
        dag_id=dag_id,
        run_id=options.run_id,
        task_id=options.task_ids[0] if single and options.task_ids else None,
        map_index=options.map_index if single else None,
        extra={"source": source, "count": changed, **options.as_dict()},
        now=now,
    )
    return changed


def set_run_state(
    session: Session, dag_id: str, run_id: str, state: str, *, owner: str, source: str, now: datetime | None = None
) -> int:
    """A whole run to ``state``: ``queued`` clears it, ``success``/``failed`` mark every task
    instance not yet in that state and set the run's state. Returns the task instances changed."""
    now = now or datetime.now(UTC)
    from tradewind.master.actions.trigger import load_dag

    dag = load_dag(session, dag_id)
    options = ActionOptions(run_id=run_id)
    kind = "clear" if state == DagRunState.QUEUED.value else state
    action = plan(session, dag, kind, options, lock=True)
    if kind == "clear":
        return apply(session, dag_id, action, options, owner=owner, source=source, now=now)
    action = ActionPlan(action.kind, action.changes, [])
    changed = apply(session, dag_id, action, options, owner=owner, source=source, now=now)
    run = runs.get_run(session, dag_id, run_id)
    if run.state != state:
        runs.set_run_state(session, run, state, now=now)
    return changed
