"""``WorkflowTrigger`` and ``DagStateTrigger``: wait in a triggerer for tasks or runs of another DAG
to reach a state (Airflow's ``airflow.triggers.external_task``), counting them through the
process's runtime services as ``ExternalTaskSensor`` does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from tradewind.sdk import runtime_services
from tradewind.sdk.triggers.base import BaseTrigger, TriggerEvent, classpath_of


def _dates(values: Sequence[datetime | str]) -> list[datetime]:
    return [value if isinstance(value, datetime) else datetime.fromisoformat(value) for value in values]


class WorkflowTrigger(BaseTrigger):
    """Fires ``{"status": "failed"}`` once one of the watched task instances (or runs, when no task
    is named) is in ``failed_states``, ``{"status": "skipped"}`` once one is in ``skipped_states``,
    and ``{"status": "success"}`` once all of them are in ``allowed_states``."""

    def __init__(
        self,
        external_dag_id: str,
        logical_dates: Sequence[datetime | str] | None = None,
        external_task_ids: Sequence[str] | None = None,
        external_task_group_id: str | None = None,
        failed_states: Sequence[str] | None = None,
        skipped_states: Sequence[str] | None = None,
        allowed_states: Sequence[str] | None = None,
        poke_interval: float = 2.0,
        soft_fail: bool = False,
        execution_dates: Sequence[datetime | str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.external_dag_id = external_dag_id
        self.logical_dates = _dates(logical_dates if logical_dates is not None else execution_dates or [])
        self.external_task_ids = list(external_task_ids or [])
        self.external_task_group_id = external_task_group_id
        self.failed_states = list(failed_states or [])
        self.skipped_states = list(skipped_states or [])
        self.allowed_states = list(allowed_states or ["success"])
        self.poke_interval = float(poke_interval)
        self.soft_fail = soft_fail

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(WorkflowTrigger), {
            "external_dag_id": self.external_dag_id,
            "logical_dates": self.logical_dates,
            "external_task_ids": self.external_task_ids,
            "external_task_group_id": self.external_task_group_id,
            "failed_states": self.failed_states,
            "skipped_states": self.skipped_states,
            "allowed_states": self.allowed_states,
            "poke_interval": self.poke_interval,
            "soft_fail": self.soft_fail,
        }

    def _count(self) -> tuple[dict[str, int], int]:
        services = runtime_services.current()
        task_ids = list(self.external_task_ids)
        if not task_ids and self.external_task_group_id:
            found = services.external_dag(self.external_dag_id)
            task_ids = sorted((found.groups or {}).get(self.external_task_group_id, frozenset()))
        if task_ids:
            counts = services.count_task_states(self.external_dag_id, self.logical_dates, task_ids)
            return counts, len(self.logical_dates) * len(task_ids)
        return services.count_run_states(self.external_dag_id, self.logical_dates), len(self.logical_dates)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            counts, expected = await asyncio.to_thread(self._count)
            if sum(counts.get(s, 0) for s in self.failed_states) > 0:
                yield TriggerEvent({"status": "failed"})
                return
            if sum(counts.get(s, 0) for s in self.skipped_states) > 0:
                yield TriggerEvent({"status": "skipped"})
                return
            if expected and sum(counts.get(s, 0) for s in self.allowed_states) == expected:
                yield TriggerEvent({"status": "success"})
                return
            await asyncio.sleep(self.poke_interval)


class DagStateTrigger(BaseTrigger):
    """Fires with its own serialized form once every run of ``dag_id`` at ``logical_dates`` is in
    one of ``states`` (Airflow's event)."""

    def __init__(
        self,
        dag_id: str,
        states: Sequence[str],
        logical_dates: Sequence[datetime | str] | None = None,
        poll_interval: float = 5.0,
        execution_dates: Sequence[datetime | str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.dag_id = dag_id
        self.states = [str(getattr(s, "value", s)) for s in states]
        self.logical_dates = _dates(logical_dates if logical_dates is not None else execution_dates or [])
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(DagStateTrigger), {
            "dag_id": self.dag_id,
            "states": self.states,
            "logical_dates": self.logical_dates,
            "poll_interval": self.poll_interval,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        services = runtime_services.current()
        while True:
            counts = await asyncio.to_thread(services.count_run_states, self.dag_id, self.logical_dates)
            if sum(counts.get(s, 0) for s in self.states) == len(self.logical_dates):
                classpath, kwargs = self.serialize()
                yield TriggerEvent(
                    [classpath, {**kwargs, "logical_dates": [d.isoformat() for d in self.logical_dates]}]
                )
                return
            await asyncio.sleep(self.poll_interval)
