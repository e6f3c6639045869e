"""``TriggerDagRunOperator``: create a run of another DAG, optionally wait for it to end (Airflow 2).

The run is made by the same code as ``tradewind dags trigger`` and the REST API
(``master.actions.trigger.trigger_dag``): the DAG must exist, the conf must fit its params, and a
run with the same run id or logical date is refused — unless ``reset_dag_run``, which clears that
run so it runs again. The new run's id and logical date are pushed to XCom under Airflow's keys.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from tradewind.errors import AirflowException, AirflowSkipException, DagDefinitionError, DagRunAlreadyExists
from tradewind.sdk import runtime_services
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.json_object import parse_json_object
from tradewind.sdk.triggers.external_task import DagStateTrigger
from tradewind.states import DagRunState

log = logging.getLogger("tradewind.task.operators")

__all__ = [
    "XCOM_EXECUTION_DATE_ISO",
    "XCOM_LOGICAL_DATE_ISO",
    "XCOM_RUN_ID",
    "TriggerDagRunOperator",
    "parse_logical_date",
]

XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"
XCOM_EXECUTION_DATE_ISO = "trigger_execution_date_iso"
XCOM_RUN_ID = "trigger_run_id"

_RUN_STATES = frozenset(s.value for s in DagRunState)


def parse_logical_date(value: str | datetime | None, now: datetime) -> datetime:
    """The triggered run's logical date: a datetime, an ISO 8601 text (a rendered template), or now."""
    if value is None or value == "":
        return now
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise AirflowException(f"logical_date {value!r} is not an ISO 8601 date or datetime") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _run_states(name: str, states: Iterable[Any] | None, default: list[str], task_id: Any) -> list[str]:
    if states is None:
        return default
    values = [str(s.value if hasattr(s, "value") else s) for s in states]
    bad = sorted(set(values) - _RUN_STATES)
    if bad:
        raise DagDefinitionError(
            f"task {task_id!r}: {name} must be DAG run states ({', '.join(sorted(_RUN_STATES))}); got {bad}"
        )
    return values


class TriggerDagRunOperator(BaseOperator):
    """Trigger a run of ``trigger_dag_id``."""

    template_fields: ClassVar[Sequence[str]] = ("trigger_dag_id", "trigger_run_id", "logical_date", "conf")
    template_fields_renderers: ClassVar[dict[str, str]] = {"conf": "py"}
    ui_color: ClassVar[str] = "#ffefeb"

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: str | datetime | None = None,
        execution_date: str | datetime | None = None,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float = 60,
        allowed_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        skip_when_already_exists: bool = False,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        task_id = kwargs.get("task_id")
        if logical_date is not None and execution_date is not None:
            raise DagDefinitionError(f"task {task_id!r}: give logical_date or execution_date, not both")
        if conf is not None:
            try:
                json.dumps(conf)
            except (TypeError, ValueError):
                raise DagDefinitionError(f"task {task_id!r}: conf parameter should be JSON Serializable") from None
        if isinstance(poke_interval, bool) or not isinstance(poke_interval, int | float) or poke_interval < 0:
            raise DagDefinitionError(f"task {task_id!r}: poke_interval must be a non-negative number of seconds")
        allowed = _run_states("allowed_states", allowed_states, [DagRunState.SUCCESS.value], task_id)
        failed = _run_states("failed_states", failed_states, [DagRunState.FAILED.value], task_id)
        super().__init__(**kwargs)
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf
        chosen = logical_date if logical_date is not None else execution_date
        self.logical_date = chosen.isoformat() if isinstance(chosen, datetime) else chosen
        self.reset_dag_run = reset_dag_run
        self.wait_for_completion = wait_for_completion
        self.poke_interval = poke_interval
        self.allowed_states = allowed
        self.failed_states = failed
        self.skip_when_already_exists = skip_when_already_exists
        self.deferrable = deferrable

    @property
    def execution_date(self) -> str | None:
        """Airflow's older name for ``logical_date``."""
        return self.logical_date

    def execute(self, context: dict[str, Any]) -> None:
        conf = self.conf
        if isinstance(conf, str):
            # NotAJsonObject is an AirflowException, as Airflow's own error here is.
            conf = parse_json_object(conf, "conf", "must render to a JSON object") if conf.strip() else None
        if conf is not None and not isinstance(conf, dict):
            raise AirflowException(f"conf must be a JSON object, got {type(conf).__name__}")
        logical_date = parse_logical_date(self.logical_date, datetime.now(UTC))
        run_id, run_logical_date = self._trigger(conf, logical_date)
        ti = context["ti"]
        ti.xcom_push(key=XCOM_LOGICAL_DATE_ISO, value=run_logical_date.isoformat())
        ti.xcom_push(key=XCOM_EXECUTION_DATE_ISO, value=run_logical_date.isoformat())
        ti.xcom_push(key=XCOM_RUN_ID, value=run_id)
        if self.wait_for_completion and self.deferrable:
            self.defer(
                trigger=DagStateTrigger(
                    dag_id=self.trigger_dag_id,
                    states=[*self.allowed_states, *self.failed_states],
                    logical_dates=[run_logical_date],
                    poll_interval=self.poke_interval,
                ),
                method_name="execute_complete",
                kwargs={"run_id": run_id},
            )
        if self.wait_for_completion:
            self._wait(run_id, run_logical_date)

    def execute_complete(self, context: dict[str, Any], event: Any = None, run_id: str | None = None) -> None:
        """Resumed once the triggered run reached an allowed or a failed state."""
        state = runtime_services.current().run_state(self.trigger_dag_id, run_id or "")
        if state in self.failed_states:
            raise AirflowException(f"{self.trigger_dag_id} failed with failed state {state}")
        if state in self.allowed_states:
            log.info("%s finished with allowed state %s", self.trigger_dag_id, state)
            return
        raise AirflowException(
            f"{self.trigger_dag_id} return {state} which is not in {self.failed_states} or {self.allowed_states}"
        )

    def _trigger(self, conf: dict[str, Any] | None, logical_date: datetime) -> tuple[str, datetime]:
        services = runtime_services.current()
        owner = f"{self.dag_id}.{self.task_id}"
        run_id = self.trigger_run_id or None
        try:
            run = services.trigger_run(
                self.trigger_dag_id,
                conf=conf,
                run_id=run_id,
                logical_date=logical_date,
                owner=owner,
                source="TriggerDagRunOperator",
            )
        except DagRunAlreadyExists:
            if self.skip_when_already_exists:
                raise AirflowSkipException(
                    "Skipping due to skip_when_already_exists is set to True and DagRunAlreadyExists"
                ) from None
            if not self.reset_dag_run:
                raise
            log.info("Clearing %s on %s", self.trigger_dag_id, logical_date.isoformat())
            run = services.reset_run(
                self.trigger_dag_id,
                run_id=run_id,
                logical_date=logical_date,
                owner=owner,
                source="TriggerDagRunOperator",
            )
        log.info(
            "Triggered run %s of %s (logical date %s)", run.run_id, self.trigger_dag_id, run.logical_date.isoformat()
        )
        return run.run_id, run.logical_date

    def _wait(self, run_id: str, logical_date: datetime) -> None:
        services = runtime_services.current()
        while True:
            log.info(
                "Waiting for %s on %s to become allowed state %s ...",
                self.trigger_dag_id,
                logical_date.isoformat(),
                self.allowed_states,
            )
            time.sleep(self.poke_interval)
            state = services.run_state(self.trigger_dag_id, run_id)
            if state in self.failed_states:
                raise AirflowException(f"{self.trigger_dag_id} failed with failed states {state}")
            if state in self.allowed_states:
                log.info("%s finished with allowed state %s", self.trigger_dag_id, state)
                return
