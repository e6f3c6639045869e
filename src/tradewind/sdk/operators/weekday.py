"""``BranchDayOfWeekOperator`` (Airflow's ``airflow.operators.weekday``): follow one set of tasks on
the given days of the week and another set on the others, judged by today's date in the DAG's time
zone or, with ``use_task_logical_date``, by the run's logical date."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from tradewind.sdk.operators.branch import BaseBranchOperator, branch_choice
from tradewind.sdk.weekday import WeekDay, is_in


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BranchDayOfWeekOperator(BaseBranchOperator):
    """Branch on the day of the week: ``follow_task_ids_if_true`` on one of ``week_day``'s days."""

    ui_color: ClassVar[str] = "#ffefeb"
    #: The current time; replace it in tests.
    clock = staticmethod(_utcnow)

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        week_day: str | WeekDay | Iterable[str | WeekDay],
        use_task_logical_date: bool = False,
        use_task_execution_day: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.week_day = week_day
        # Airflow's name before 2.2 still works.
        self.use_task_logical_date = use_task_logical_date or use_task_execution_day
        self._week_day_num = WeekDay.validate_week_day(week_day)

    def choose_branch(self, context: dict[str, Any]) -> str | list[str] | None:
        if self.use_task_logical_date:
            now = context["logical_date"]
        else:
            dag = context.get("dag") or self.dag
            now = self.clock().astimezone(dag.timezone if dag is not None else UTC)
        chosen = self.follow_task_ids_if_true if is_in(now, self._week_day_num) else self.follow_task_ids_if_false
        return branch_choice(chosen)
