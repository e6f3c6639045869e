"""``BranchDateTimeOperator`` (Airflow's ``airflow.operators.datetime``): follow one set of tasks
when now — or, with ``use_task_logical_date``, the run's logical date — lies between
``target_lower`` and ``target_upper``, another set otherwise.

The targets are datetimes, or times of day taken on that date; a window of times that ends before
it starts runs past midnight. Naive targets are in the DAG's time zone, as in Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, ClassVar

from tradewind.errors import AirflowException
from tradewind.sdk.operators.branch import BaseBranchOperator, branch_choice

Target = datetime | time | None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def target_times_as_dates(base_date: datetime, lower: Target, upper: Target) -> tuple[datetime | None, ...]:
    """The window's ends as datetimes: a time of day on ``base_date``'s date; when both are times
    and the upper comes first, it is the next day's."""
    if isinstance(lower, datetime) and isinstance(upper, datetime):
        return lower, upper
    low = datetime.combine(base_date.date(), lower) if isinstance(lower, time) else lower
    high = datetime.combine(base_date.date(), upper) if isinstance(upper, time) else upper
    if low is not None and high is not None and high < low:
        high += timedelta(days=1)
    return low, high


def in_window(now: datetime, lower: datetime | None, upper: datetime | None, zone: tzinfo) -> bool:
    """Whether ``now`` lies in ``[lower, upper]`` (either end open when None; naive ends in ``zone``)."""
    if upper is not None and _aware(upper, zone) < now:
        return False
    return not (lower is not None and _aware(lower, zone) > now)


def _aware(value: datetime, zone: tzinfo) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


class BranchDateTimeOperator(BaseBranchOperator):
    """Branch on the current datetime (or the logical date) against a lower and an upper target."""

    ui_color: ClassVar[str] = "#ffefeb"
    #: The current time; replace it in tests.
    clock = staticmethod(_utcnow)

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        target_lower: Target = None,
        target_upper: Target = None,
        use_task_logical_date: bool = False,
        use_task_execution_date: bool = False,
        **kwargs: Any,
    ) -> None:
        if target_lower is None and target_upper is None:
            raise AirflowException(
                "Both target_upper and target_lower are None. At least one must be defined to be compared to "
                "the current datetime"
            )
        for name, value in (("target_lower", target_lower), ("target_upper", target_upper)):
            if value is not None and not isinstance(value, datetime | time):
                raise TypeError(f"{name} must be a datetime, a time or None, got {value!r}")
        super().__init__(**kwargs)
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.target_lower = target_lower
        self.target_upper = target_upper
        self.use_task_logical_date = use_task_logical_date or use_task_execution_date

    def choose_branch(self, context: dict[str, Any]) -> str | list[str] | None:
        now = context["logical_date"] if self.use_task_logical_date else self.clock()
        dag = context.get("dag") or self.dag
        zone = dag.timezone if dag is not None else UTC
        lower, upper = target_times_as_dates(now, self.target_lower, self.target_upper)
        inside = in_window(now, lower, upper, zone)
        return branch_choice(self.follow_task_ids_if_true if inside else self.follow_task_ids_if_false)
