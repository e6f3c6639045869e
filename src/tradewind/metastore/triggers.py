"""Triggers and the task instances deferred on them: store a trigger, let triggerers claim the
free ones, and resume a deferred task instance — once — when its trigger fires, fails or times out.

Every resume is a compare-and-set ``deferred → scheduled`` on the task instance's state *and* its
``trigger_id``, so a trigger that two triggerers both ran (one was thought dead) resumes its task
once, and a task instance cleared or marked meanwhile is left alone. The try number is kept.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from tradewind.decisions.trigger_assignment import TriggerHolding
from tradewind.metastore import task_instances
from tradewind.metastore.models import TaskInstance, Trigger
from tradewind.metastore.statements import rows_changed
from tradewind.metastore.task_instances import TIKey
from tradewind.states import TaskInstanceState as TI

#: The task-instance columns of a try that is not resuming from a deferral (a fresh try's).
NO_DEFERRAL: dict[str, Any] = {"next_method": None, "next_kwargs": None, "trigger_id": None, "trigger_timeout": None}

#: ``next_method`` of a task instance whose trigger failed or timed out (Airflow's ``__fail__``).
FAIL_METHOD = "__fail__"
TRIGGER_FAILURE = "Trigger failure"
TRIGGER_TIMEOUT = "Trigger timeout"


@dataclass(frozen=True)
class StoredTrigger:
    trigger_id: int
    classpath: str
    kwargs: dict[str, Any]


def add_trigger(session: Session, classpath: str, kwargs: dict[str, Any], *, now: datetime) -> int:
    row = Trigger(classpath=classpath, kwargs=kwargs, created_date=now, triggerer_id=None)
    session.add(row)
    session.flush()
    return row.id


def delete_triggers(session: Session, trigger_ids: Collection[int]) -> None:
    if trigger_ids:
        session.execute(delete(Trigger).where(Trigger.id.in_(list(trigger_ids))))


def holdings(session: Session) -> list[TriggerHolding]:
    """Every trigger and the triggerer holding it (one light query)."""
    return [TriggerHolding(int(i), t) for i, t in session.execute(select(Trigger.id, Trigger.triggerer_id))]


def claim(session: Session, trigger_ids: Sequence[int], me: int, alive: Collection[int]) -> list[int]:
    """Take the triggers of ``trigger_ids`` that are still free (no triggerer, or one not in
    ``alive``); returns those this call took. Another triggerer racing for the same one loses."""
    taken: list[int] = []
    alive_ids = list(set(alive) | {me})
    for trigger_id in trigger_ids:
        statement = (
            update(Trigger)
            .where(Trigger.id == trigger_id)
            .where((Trigger.triggerer_id.is_(None)) | (Trigger.triggerer_id.not_in(alive_ids)))
            .values(triggerer_id=me)
            .execution_options(synchronize_session=False)
        )
        if rows_changed(session, statement) == 1:
            taken.append(trigger_id)
    return taken


def held_by(session: Session, me: int) -> list[StoredTrigger]:
    """The triggers triggerer ``me`` holds."""
    rows = session.execute(select(Trigger.id, Trigger.classpath, Trigger.kwargs).where(Trigger.triggerer_id == me))
    return [StoredTrigger(int(i), c, dict(k or {})) for i, c, k in rows]


def all_triggers(session: Session) -> list[StoredTrigger]:
    """Every stored trigger (``dags test`` runs them all in its own process)."""
    rows = session.execute(select(Trigger.id, Trigger.classpath, Trigger.kwargs).order_by(Trigger.id))
    return [StoredTrigger(int(i), c, dict(k or {})) for i, c, k in rows]


def release(session: Session, me: int) -> None:
    """A triggerer stopping hands its triggers back at once."""
    session.execute(update(Trigger).where(Trigger.triggerer_id == me).values(triggerer_id=None))


def fire(session: Session, trigger_id: int, payload: Any, now: datetime) -> list[TIKey]:
    """The trigger fired: each task instance deferred on it goes back to ``scheduled`` with
    ``event`` among its ``next_kwargs``; the trigger is deleted. Returns those resumed."""
    resumed: list[TIKey] = []
    for row in _deferred_on(session, trigger_id):
        kwargs = {**dict(row.next_kwargs or {}), "event": payload}
        resumed += _resume(session, row, trigger_id, now, next_kwargs=kwargs)
    delete_triggers(session, [trigger_id])
    return resumed


def fail(session: Session, trigger_id: int, error: str, traceback: list[str] | None, now: datetime) -> list[TIKey]:
    """The trigger raised (or could not be loaded): its task instances resume with ``__fail__``,
    which fails the try with the traceback in its log; retries apply."""
    resumed: list[TIKey] = []
    kwargs: dict[str, Any] = {"error": error, "traceback": traceback}
    for row in _deferred_on(session, trigger_id):
        resumed += _resume(session, row, trigger_id, now, next_method=FAIL_METHOD, next_kwargs=kwargs)
    delete_triggers(session, [trigger_id])
    return resumed


def time_out(session: Session, now: datetime) -> list[TIKey]:
    """Deferred task instances past their ``trigger_timeout`` resume with ``__fail__``."""
    rows = session.scalars(
        select(TaskInstance).where(
            TaskInstance.state == TI.DEFERRED.value,
            TaskInstance.trigger_timeout.is_not(None),
            TaskInstance.trigger_timeout < now,
        )
    ).all()
    resumed: list[TIKey] = []
    for row in rows:
        kwargs = {"error": TRIGGER_TIMEOUT}
        resumed += _resume(session, row, row.trigger_id, now, next_method=FAIL_METHOD, next_kwargs=kwargs)
    return resumed


def delete_unused(session: Session) -> int:
    """Delete the triggers no deferred task instance waits on any more (it was cleared, marked,
    timed out, or its run was deleted); a triggerer running one stops it at its next look."""
    waiting = exists().where(TaskInstance.trigger_id == Trigger.id, TaskInstance.state == TI.DEFERRED.value)
    return rows_changed(session, delete(Trigger).where(~waiting).execution_options(synchronize_session=False))


def _deferred_on(session: Session, trigger_id: int) -> list[TaskInstance]:
    return list(
        session.scalars(
            select(TaskInstance).where(TaskInstance.trigger_id == trigger_id, TaskInstance.state == TI.DEFERRED.value)
        )
    )


def _resume(
    session: Session,
    row: TaskInstance,
    trigger_id: int | None,
    now: datetime,
    *,
    next_kwargs: dict[str, Any],
    next_method: str | None = None,
) -> list[TIKey]:
    fields: dict[str, Any] = {"trigger_id": None, "trigger_timeout": None, "next_kwargs": next_kwargs}
    if next_method is not None:
        fields["next_method"] = next_method
    on_trigger = TaskInstance.trigger_id == trigger_id if trigger_id is not None else TaskInstance.trigger_id.is_(None)
    key = TIKey(row.dag_id, row.run_id, row.task_id, row.map_index)
    moved = task_instances.transition(
        session,
        key,
        expected_state=TI.DEFERRED,
        target_state=TI.SCHEDULED,
        expected_try=row.try_number,
        only_if=on_trigger,
        now=now,
        **fields,
    )
    return [key] if moved else []
