"""Airflow 2's ``DagRunType`` (``airflow.utils.types``) over the run types tradewind records."""

from __future__ import annotations

from enum import StrEnum


class DagRunType(StrEnum):
    """How a run came to be; a ``str`` so ``dag_run.run_type == DagRunType.MANUAL`` holds."""

    BACKFILL_JOB = "backfill"
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    #: ``tradewind dags test`` (Airflow records these as manual runs).
    DAGS_TEST = "dags_test"

    @staticmethod
    def from_run_id(run_id: str) -> DagRunType:
        """The type a run id's prefix names (``scheduled__…``); manual when it names none."""
        try:
            return DagRunType(run_id.split("__", 1)[0])
        except ValueError:
            return DagRunType.MANUAL

    def generate_run_id(self, logical_date: object) -> str:
        """``<type>__<logical date in ISO 8601>``, the form run ids take."""
        iso = logical_date.isoformat() if hasattr(logical_date, "isoformat") else str(logical_date)
        return f"{self.value}__{iso}"
