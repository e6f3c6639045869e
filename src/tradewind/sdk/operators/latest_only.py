"""``LatestOnlyOperator``: skip the direct downstream tasks unless this run is the DAG's latest
scheduled interval (Airflow 2). A run triggered by hand always goes on.

"Latest" is Airflow's window: the run is latest while ``now`` lies in the interval after its own,
``(data_interval_end, end of the next interval]``; ``latest_window`` decides it purely.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.schedules import DataInterval, next_dagrun_info
from tradewind.sdk.timetables.base import Timetable

log = logging.getLogger("tradewind.task.operators")

__all__ = ["LatestOnlyOperator", "LatestWindow", "latest_window"]


@dataclass(frozen=True)
class LatestWindow:
    """Whether a run is the latest, and the window that said so (None when the schedule has no next run)."""

    is_latest: bool
    left: datetime | None = None
    right: datetime | None = None


def latest_window(
    timetable: Timetable, *, start_date: datetime | None, data_interval: DataInterval, now: datetime
) -> LatestWindow:
    """Whether the run with ``data_interval`` is the latest at ``now``: the interval following it
    must contain ``now`` (left end open). With no following interval (no schedule, ``@once``) it is."""
    following = next_dagrun_info(
        timetable,
        start_date=start_date or data_interval.start,
        catchup=True,
        last_automated_interval=data_interval,
        now=now,
    )
    if following is None:
        return LatestWindow(True)
    left, right = following.data_interval.start, following.data_interval.end
    return LatestWindow(left < now <= right, left, right)


class LatestOnlyOperator(BaseOperator):
    """Let the direct downstream tasks run only in the latest scheduled run."""

    ui_color: ClassVar[str] = "#e9ffdb"

    def execute(self, context: dict[str, Any]) -> Any:
        downstream = sorted(self.downstream_task_ids)
        dag_run = context["dag_run"]
        if getattr(dag_run, "external_trigger", False):
            log.info("Externally triggered DAG_Run: allowing execution to proceed.")
            return downstream
        dag = context["dag"]
        window = latest_window(
            dag.timetable,
            start_date=dag.start_date,
            data_interval=DataInterval(context["data_interval_start"], context["data_interval_end"]),
            now=datetime.now(UTC),
        )
        if window.left is None:
            log.info("Last scheduled execution: allowing execution to proceed.")
            return downstream
        log.info("Checking latest only with left_window: %s right_window: %s", window.left, window.right)
        if not window.is_latest:
            log.info("Not latest execution, skipping downstream.")
            if downstream:
                self.skip(context, downstream)
            return []
        log.info("Latest, allowing execution to proceed.")
        return downstream
