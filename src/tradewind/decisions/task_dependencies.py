"""Why a task instance does not run now — ``tasks failed-deps`` — decided purely, under the names
Airflow gives its scheduler's dependencies ("Trigger Rule", "Dagrun Running"…).

It reports, it decides nothing: the trigger rule's verdict comes from ``trigger_rules.evaluate``,
the previous run's hold from ``past_dependencies`` (both the planner's own rules), and the pool's
open slots from what the caller read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tradewind.decisions.trigger_rules import UpstreamCounts, Verdict, evaluate

#: Task-instance states the scheduler may still move towards running (Airflow's "Task Instance State").
RUNNABLE_STATES = frozenset({"none", "scheduled", "up_for_retry", "up_for_reschedule"})


@dataclass(frozen=True)
class Standing:
    """What the check needs to know of one task instance and its surroundings."""

    dag_id: str
    state: str
    run_state: str
    dag_paused: bool
    trigger_rule: str
    upstream: UpstreamCounts
    #: Why the DAG's previous run holds the task back (``past_dependencies.held_back``), if it does.
    held_by_past: str | None
    retry_at: datetime | None
    next_poke_at: datetime | None
    pool: str
    pool_slots: int
    #: The pool's open slots now; None when there is no such pool.
    pool_open_slots: int | None


@dataclass(frozen=True)
class UnmetDependency:
    name: str
    reason: str


def unmet_dependencies(standing: Standing, now: datetime) -> list[UnmetDependency]:
    """Every dependency that keeps the task instance from being queued at ``now``; [] when none does."""
    s = standing
    unmet: list[UnmetDependency] = []
    if s.state not in RUNNABLE_STATES:
        unmet.append(UnmetDependency("Task Instance State", f"Task is in the '{s.state}' state."))
    if s.run_state != "running":
        unmet.append(
            UnmetDependency(
                "Dagrun Running",
                f"Task instance's dagrun was not in the 'running' state but in the state '{s.run_state}'.",
            )
        )
    if s.dag_paused:
        unmet.append(UnmetDependency("Dag Not Paused", f"Task's DAG '{s.dag_id}' is paused."))
    verdict = evaluate(s.trigger_rule, s.upstream)
    if verdict is not Verdict.READY:
        unmet.append(UnmetDependency("Trigger Rule", _trigger_rule_reason(s.trigger_rule, verdict, s.upstream)))
    if s.held_by_past is not None:
        unmet.append(UnmetDependency("Previous Dagrun State", s.held_by_past))
    if s.state == "up_for_retry" and s.retry_at is not None and s.retry_at > now:
        unmet.append(
            UnmetDependency(
                "Not In Retry Period",
                "Task is not ready for retry yet but will be retried automatically. "
                f"Current date is {now.isoformat()} and task will be retried at {s.retry_at.isoformat()}.",
            )
        )
    if s.state == "up_for_reschedule" and s.next_poke_at is not None and s.next_poke_at > now:
        unmet.append(
            UnmetDependency(
                "Ready To Reschedule",
                "Task is not ready for reschedule yet but will be rescheduled automatically. "
                f"Current date is {now.isoformat()} and task will be rescheduled at {s.next_poke_at.isoformat()}.",
            )
        )
    if s.pool_open_slots is None:
        unmet.append(
            UnmetDependency("Pool Slots Available", f"Tasks using non-existent pool '{s.pool}' will not be scheduled")
        )
    elif s.pool_open_slots < s.pool_slots:
        unmet.append(
            UnmetDependency(
                "Pool Slots Available",
                f"Not scheduling since there are {s.pool_open_slots} open slots in pool {s.pool} "
                f"and require {s.pool_slots} pool slots",
            )
        )
    return unmet


def _trigger_rule_reason(rule: str, verdict: Verdict, counts: UpstreamCounts) -> str:
    outcome = {
        Verdict.WAIT: "waits for its upstream tasks",
        Verdict.SKIP: "can no longer be met: the task will be skipped",
        Verdict.UPSTREAM_FAILED: "can no longer be met: the task will be upstream_failed",
    }[verdict]
    unfinished = counts.total - counts.done
    return (
        f"Task's trigger rule '{rule}' {outcome}; upstream task instances: {counts.success} success, "
        f"{counts.skipped} skipped, {counts.failed} failed, {counts.upstream_failed} upstream_failed, "
        f"{unfinished} not done."
    )
