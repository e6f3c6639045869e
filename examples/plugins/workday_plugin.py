"""A plugin as Airflow 2 loads it from its plugins folder: a custom timetable and a macro.

Put this file in the plugins folder (``TRADEWIND_PLUGINS_FOLDER``, by default ``~/tradewind/plugins``;
``$AIRFLOW_HOME/plugins`` in Airflow). Every role loads it: the scheduler and the webserver find
``AfterWorkdayTimetable`` by its class when they read a stored DAG, the DAG processor and the
workers when they import ``example_plugin_timetable``. Templates reach the macro as
``{{ macros.workday_plugin.is_workday(ds) }}``.
"""

from datetime import date, timedelta

from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable
from pendulum import UTC, DateTime, Time


class AfterWorkdayTimetable(Timetable):
    """A run after each weekday, covering that day (Airflow's documented example): Friday's run
    covers Friday, and nothing runs for Saturday or Sunday."""

    def infer_manual_data_interval(self, *, run_after):
        # Triggered by hand: the last weekday before the trigger.
        start = DateTime.combine((run_after - timedelta(days=1)).date(), Time.min).replace(tzinfo=UTC)
        while start.weekday() >= 5:
            start = start - timedelta(days=1)
        return DataInterval(start=start, end=start + timedelta(days=1))

    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        if last_automated_data_interval is not None:
            next_start = last_automated_data_interval.end
        else:
            next_start = restriction.earliest
            if next_start is None:  # no start date: never scheduled
                return None
            if not restriction.catchup:
                next_start = max(next_start, DateTime.combine(date.today(), Time.min).replace(tzinfo=UTC))
            elif next_start.time() != Time.min:
                next_start = DateTime.combine(next_start.date() + timedelta(days=1), Time.min).replace(tzinfo=UTC)
        while next_start.weekday() >= 5:  # the weekend has no run
            next_start = next_start + timedelta(days=1)
        if restriction.latest is not None and next_start > restriction.latest:
            return None
        return DagRunInfo.interval(start=next_start, end=next_start + timedelta(days=1))

    @property
    def summary(self):
        return "after each workday"


def is_workday(ds):
    """Whether the ``YYYY-MM-DD`` date is a weekday."""
    return date.fromisoformat(ds).weekday() < 5


class WorkdayPlugin(AirflowPlugin):
    name = "workday_plugin"
    timetables = [AfterWorkdayTimetable]
    macros = [is_workday]
