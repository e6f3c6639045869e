"""``ExternalTaskSensor`` and ``ExternalTaskMarker``: wait for tasks, a task group or a whole run of
another DAG, as Airflow 2 does.

The sensor looks at the other DAG's runs at its own logical date, shifted back by
``execution_delta`` or computed by ``execution_date_fn``. Each poke counts the task instances (or
runs, when no task is named) in ``failed_states`` (the task fails at once), ``skipped_states`` (it
is skipped) and ``allowed_states`` (done when every one of them is there). The pure parts
(``external_logical_dates``, ``poke_verdict``) are apart from the reads of the metastore,
through the process's runtime services (``sdk/runtime_services.py``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from tradewind.errors import AirflowException, AirflowSkipException, DagDefinitionError
from tradewind.sdk import runtime_services
from tradewind.sdk.operators.empty import EmptyOperator
from tradewind.sdk.runtime_services import ExternalDagLink
from tradewind.sdk.sensors.base import BaseSensorOperator
from tradewind.sdk.triggers.external_task import WorkflowTrigger
from tradewind.states import DagRunState, TaskInstanceState

log = logging.getLogger("tradewind.task.operators")

__all__ = ["ExternalDagLink", "ExternalTaskMarker", "ExternalTaskSensor", "external_logical_dates", "poke_verdict"]

_TASK_STATES = frozenset(s.value for s in TaskInstanceState)
_RUN_STATES = frozenset(s.value for s in DagRunState)


def _state_list(name: str, states: Iterable[Any] | None, default: Sequence[str], task_id: Any) -> list[str]:
    if states is None:
        return list(default)
    if isinstance(states, str):
        raise DagDefinitionError(f"task {task_id!r}: {name} must be a list of states, not the string {states!r}")
    return [str(s.value if hasattr(s, "value") else s) for s in states]


def external_logical_dates(
    logical_date: datetime,
    *,
    execution_delta: timedelta | None = None,
    execution_date_fn: Callable[..., Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[datetime]:
    """The logical dates of the other DAG's runs to look at, as Airflow computes them.

    ``execution_delta`` is subtracted from ``logical_date``. ``execution_date_fn`` is called with
    the logical date first and, by keyword, the context keys it names (or all of them, and
    ``context`` itself, when it takes ``**kwargs``); it returns one datetime or a list of them.
    """
    if execution_delta is not None:
        return [_aware(logical_date - execution_delta)]
    if execution_date_fn is None:
        return [_aware(logical_date)]
    context = dict(context or {})
    available = {k: v for k, v in context.items() if k not in ("logical_date", "execution_date")}
    available["context"] = context
    result = execution_date_fn(logical_date, **_named_kwargs(execution_date_fn, available))
    dates = list(result) if isinstance(result, list | tuple) else [result]
    for value in dates:
        if not isinstance(value, datetime):
            raise AirflowException(f"execution_date_fn must return a datetime or a list of datetimes, got {value!r}")
    return [_aware(value) for value in dates]


def _named_kwargs(fn: Callable[..., Any], available: Mapping[str, Any]) -> dict[str, Any]:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return dict(available)
    named = {p.name for p in parameters[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in available.items() if k in named}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PokeCounts:
    """Task instances (or runs) of the other DAG in each kind of state, and how many are expected."""

    expected: int
    allowed: int
    failed: int = 0
    skipped: int = 0


def poke_verdict(counts: PokeCounts) -> str:
    """``failed``, ``skipped``, ``done`` or ``waiting`` — failed states are checked first, then
    skipped ones (Airflow's order)."""
    if counts.failed > 0:
        return "failed"
    if counts.skipped > 0:
        return "skipped"
    if counts.expected > 0 and counts.allowed >= counts.expected:
        return "done"
    return "waiting"


class ExternalTaskSensor(BaseSensorOperator):
    """Wait for a task, several tasks, a task group or a whole run of another DAG."""

    template_fields: ClassVar[Sequence[str]] = (
        "external_dag_id",
        "external_task_id",
        "external_task_ids",
        "external_task_group_id",
    )
    ui_color: ClassVar[str] = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Collection[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Iterable[str] | None = None,
        skipped_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        execution_delta: timedelta | None = None,
        execution_date_fn: Callable[..., Any] | None = None,
        check_existence: bool = False,
        poll_interval: float = 2.0,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        task_id = kwargs.get("task_id")
        allowed = _state_list("allowed_states", allowed_states, [DagRunState.SUCCESS.value], task_id)
        skipped = _state_list("skipped_states", skipped_states, [], task_id)
        failed = _state_list("failed_states", failed_states, [], task_id)
        if len(set(allowed) | set(skipped) | set(failed)) < len(allowed) + len(skipped) + len(failed):
            raise DagDefinitionError(
                f"task {task_id!r}: Duplicate values provided across allowed_states, skipped_states and failed_states."
            )
        if external_task_id is not None and external_task_ids:
            raise DagDefinitionError(
                f"task {task_id!r}: Only one of `external_task_id` or `external_task_ids` may be provided to "
                "ExternalTaskSensor; use external_task_id or external_task_ids or external_task_group_id."
            )
        if external_task_group_id is not None and (external_task_id is not None or external_task_ids):
            raise DagDefinitionError(
                f"task {task_id!r}: Only one of `external_task_group_id` or `external_task_ids` may be provided to "
                "ExternalTaskSensor; use external_task_id or external_task_ids or external_task_group_id."
            )
        if execution_delta is not None and execution_date_fn is not None:
            raise DagDefinitionError(
                f"task {task_id!r}: Only one of `execution_delta` or `execution_date_fn` may be provided to "
                "ExternalTaskSensor; not both."
            )
        task_ids = [external_task_id] if external_task_id is not None else list(external_task_ids or [])
        if len(set(task_ids)) != len(task_ids):
            raise DagDefinitionError(f"task {task_id!r}: Duplicate task_ids passed in external_task_ids parameter")
        valid = _TASK_STATES if task_ids or external_task_group_id else _RUN_STATES
        kind = "task instance" if valid is _TASK_STATES else "DAG run"
        for name, states in (("allowed_states", allowed), ("skipped_states", skipped), ("failed_states", failed)):
            bad = sorted(set(states) - valid)
            if bad:
                raise DagDefinitionError(
                    f"task {task_id!r}: {name} must be {kind} states ({', '.join(sorted(valid))}); got {bad}"
                )
        super().__init__(**kwargs)
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.external_task_ids = task_ids
        self.external_task_group_id = external_task_group_id
        self.allowed_states = allowed
        self.skipped_states = skipped
        self.failed_states = failed
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.check_existence = check_existence
        #: How often the deferred sensor's trigger looks (``deferrable=True``).
        self.poll_interval = poll_interval
        self.deferrable = deferrable
        self._has_checked_existence = False

    def execute(self, context: dict[str, Any]) -> Any:
        if not self.deferrable:
            return super().execute(context)
        dates = self._dates(context)
        self.defer(
            timeout=self.execution_timeout,
            trigger=WorkflowTrigger(
                external_dag_id=self.external_dag_id,
                external_task_group_id=self.external_task_group_id,
                external_task_ids=self.external_task_ids,
                logical_dates=dates,
                allowed_states=self.allowed_states,
                failed_states=self.failed_states,
                skipped_states=self.skipped_states,
                poke_interval=self.poll_interval,
                soft_fail=self.soft_fail,
            ),
            method_name="execute_complete",
        )
        return None

    def execute_complete(self, context: dict[str, Any], event: Any = None) -> None:
        """Resumed by the trigger: the external tasks succeeded, were skipped, or failed (Airflow's messages)."""
        status = (event or {}).get("status")
        if status == "success":
            log.info("External tasks %s has executed successfully.", self.external_task_ids)
            return
        if status == "skipped":
            raise AirflowSkipException("External job has skipped skipping.")
        if self.soft_fail:
            raise AirflowSkipException("External job has failed skipping.")
        raise AirflowException(
            "Error occurred while trying to retrieve task status. Please, check the name of executed task and Dag."
        )

    def _what(self) -> str:
        if self.external_task_ids:
            return f"tasks {self.external_task_ids} in DAG {self.external_dag_id}"
        if self.external_task_group_id:
            return f"task group '{self.external_task_group_id}' in DAG '{self.external_dag_id}'"
        return f"DAG {self.external_dag_id}"

    def _dates(self, context: dict[str, Any]) -> list[datetime]:
        """The other DAG's logical dates to look at (and the task ids as a list, should a template
        have rendered them into text)."""
        if isinstance(self.external_task_ids, str):
            self.external_task_ids = [self.external_task_ids]
        return external_logical_dates(
            context["logical_date"],
            execution_delta=self.execution_delta,
            execution_date_fn=self.execution_date_fn,
            context=context,
        )

    def poke(self, context: dict[str, Any]) -> bool:
        dates = self._dates(context)
        shown = ", ".join(d.isoformat() for d in dates)
        log.info("Poking for %s on %s ...", self._what(), shown)
        services = runtime_services.current()
        if self.check_existence and not self._has_checked_existence:
            self._check_existence(services.external_dag(self.external_dag_id))
            self._has_checked_existence = True
        counts = self._counts(services, dates)
        verdict = poke_verdict(counts)
        if verdict == "failed":
            message = self._failed_message()
            if self.soft_fail:
                raise AirflowSkipException(f"{message} Skipping due to soft_fail.")
            raise AirflowException(message)
        if verdict == "skipped":
            raise AirflowSkipException(
                f"The external {self._what()} reached a state in our states-to-skip-on list. Skipping."
            )
        log.info("%s of %s in allowed states %s", counts.allowed, counts.expected, self.allowed_states)
        return verdict == "done"

    def _failed_message(self) -> str:
        if self.external_task_ids:
            return f"Some of the external tasks {self.external_task_ids} in DAG {self.external_dag_id} failed."
        if self.external_task_group_id:
            return f"The external task_group '{self.external_task_group_id}' in DAG '{self.external_dag_id}' failed."
        return f"The external DAG {self.external_dag_id} failed."

    def _check_existence(self, found: ExternalDagLink) -> None:
        if not found.exists:
            raise AirflowException(f"The external DAG {self.external_dag_id} does not exist.")
        for task_id in self.external_task_ids:
            if task_id not in found.task_ids:
                raise AirflowException(f"The external task {task_id} in DAG {self.external_dag_id} does not exist.")
        group = self.external_task_group_id
        if group is not None and not (found.groups or {}).get(group):
            raise AirflowException(f"The external task group '{group}' in DAG '{self.external_dag_id}' does not exist.")

    def _counts(self, services: runtime_services.RuntimeServices, dates: list[datetime]) -> PokeCounts:
        if self.external_task_ids or self.external_task_group_id:
            task_ids = self.external_task_ids or sorted(
                _group_tasks(services, self.external_dag_id, self.external_task_group_id)
            )
            by_state = services.count_task_states(self.external_dag_id, dates, task_ids)
            expected = len(dates) * len(task_ids)
        else:
            by_state = services.count_run_states(self.external_dag_id, dates)
            expected = len(dates)
        return PokeCounts(
            expected=expected,
            allowed=sum(by_state.get(s, 0) for s in self.allowed_states),
            failed=sum(by_state.get(s, 0) for s in self.failed_states),
            skipped=sum(by_state.get(s, 0) for s in self.skipped_states),
        )


def _group_tasks(services: runtime_services.RuntimeServices, dag_id: str, group_id: str | None) -> frozenset[str]:
    found = services.external_dag(dag_id)
    tasks = (found.groups or {}).get(group_id or "", frozenset())
    if not tasks:
        raise AirflowException(f"The external task group '{group_id}' in DAG '{dag_id}' does not exist.")
    return tasks


class ExternalTaskMarker(EmptyOperator):
    """Marks a task that another DAG's ``ExternalTaskSensor`` waits for (Airflow uses it to carry a
    clear across DAGs; here it records the link and runs as an empty task)."""

    template_fields: ClassVar[Sequence[str]] = ("external_dag_id", "external_task_id", "execution_date")
    ui_color: ClassVar[str] = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str,
        execution_date: str | datetime | None = "{{ logical_date.isoformat() }}",
        recursion_depth: int = 10,
        **kwargs: Any,
    ) -> None:
        if not isinstance(recursion_depth, int) or recursion_depth <= 0:
            raise DagDefinitionError(f"task {kwargs.get('task_id')!r}: recursion_depth should be a positive integer")
        if execution_date is not None and not isinstance(execution_date, str | datetime):
            raise DagDefinitionError(
                f"task {kwargs.get('task_id')!r}: Expected str or datetime.datetime type for execution_date. "
                f"Got {type(execution_date)}"
            )
        super().__init__(**kwargs)
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.execution_date = execution_date.isoformat() if isinstance(execution_date, datetime) else execution_date
        self.recursion_depth = recursion_depth
