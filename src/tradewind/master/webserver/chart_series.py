"""The series the Task Duration, Task Tries and Landing Times charts draw, and the Calendar's
colour for a day — computed from plain rows, no Flask and no database.

As in Airflow 2: a task's duration is its run time in seconds; its tries are the try number it
reached; its landing time is how long after the end of the run's data interval it finished (what
a consumer of the data waits). Each chart is one series per task over the runs' logical dates,
with a gap where the task has no value in a run.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from tradewind.metastore.task_history import HistoryRun, TaskInRun


@dataclass(frozen=True)
class Chart:
    """What a chart page hands to the browser (as JSON) and shows as a table beside it."""

    title: str
    unit: str
    #: The runs along the x axis, oldest first.
    runs: list[HistoryRun]
    #: task_id -> one value (or None) per run.
    series: dict[str, list[float | None]]

    def rows_html(self) -> Markup:
        """The numbers table's body rows. Built here rather than in Jinja because a 500-task chart
        has 12,500 cells (as the grid's boxes); every value is escaped before it is joined."""
        rows = []
        for task_id, values in self.series.items():
            task = html.escape(task_id)
            cells = "".join(f"<td>{'' if value is None else f'{value:g}'}</td>" for value in values)
            rows.append(f'<tr data-task-id="{task}"><th>{task}</th>{cells}</tr>')
        return Markup("\n".join(rows))  # noqa: S704 - every part above is escaped or a number

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "unit": self.unit,
            "x": [run.logical_date.timestamp() for run in self.runs],
            "runIds": [run.run_id for run in self.runs],
            "series": [{"label": task, "values": values} for task, values in self.series.items()],
        }


def _landing(run: HistoryRun, task: TaskInRun) -> float | None:
    if task.end_date is None:
        return None
    reference = run.data_interval_end or run.logical_date
    return round((task.end_date - reference).total_seconds(), 3)


#: page -> (title, unit, the value of a task in a run).
MEASURES: Mapping[str, tuple[str, str, Callable[[HistoryRun, TaskInRun], float | None]]] = {
    "duration": ("Task Duration", "seconds", lambda run, task: task.duration),
    "tries": ("Task Tries", "tries", lambda run, task: float(task.try_number) if task.try_number else None),
    "landing-times": ("Landing Times", "seconds after the data interval's end", _landing),
}


def build_chart(page: str, runs: Sequence[HistoryRun], tasks: Iterable[TaskInRun], task_order: Sequence[str]) -> Chart:
    """The chart of ``page`` (a key of ``MEASURES``), one series per task in ``task_order``."""
    title, unit, measure = MEASURES[page]
    column = {run.run_id: index for index, run in enumerate(runs)}
    series: dict[str, list[float | None]] = {task_id: [None] * len(runs) for task_id in task_order}
    by_id = {run.run_id: run for run in runs}
    for task in tasks:
        index = column.get(task.run_id)
        if index is None:
            continue
        values = series.setdefault(task.task_id, [None] * len(runs))
        values[index] = measure(by_id[task.run_id], task)
    return Chart(title, unit, list(runs), series)


#: The Calendar's colour for a day, by the first state its runs hold (as Airflow's calendar reads).
CALENDAR_ORDER = ("failed", "running", "queued", "success")


def day_state(counts: Mapping[str, int]) -> str | None:
    """The state a day of runs is coloured by: failed if any failed, then running, queued, success."""
    return next((state for state in CALENDAR_ORDER if counts.get(state)), None)


def calendar_weeks(year: int) -> list[list[date | None]]:
    """The year as weeks (Monday first) of days, ``None`` before the 1st of January and after the 31st
    of December."""
    first = date(year, 1, 1)
    day = first - timedelta(days=first.weekday())
    weeks: list[list[date | None]] = []
    while day.year <= year:
        week: list[date | None] = []
        for _ in range(7):
            week.append(day if day.year == year else None)
            day += timedelta(days=1)
        weeks.append(week)
    return weeks
