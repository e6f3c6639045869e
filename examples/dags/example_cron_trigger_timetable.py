"""CronTriggerTimetable: a run at each fire time of a cron, named by that time.

Weekdays at 06:00 Amsterdam time; the run fired at 06:00 has that logical date (not the start of the
period before it, as a cron ``schedule`` would). With ``interval`` one hour, each run covers the hour
before it; a run triggered by hand covers the hour before the trigger.

- ``check_hour_before`` finds its data interval one hour long.

Expected final states (the run: success):

    check_hour_before   success
"""

from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.timetables.trigger import CronTriggerTimetable

with DAG(
    dag_id="example_cron_trigger_timetable",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    timetable=CronTriggerTimetable("0 6 * * 1-5", timezone="Europe/Amsterdam", interval=timedelta(hours=1)),
    catchup=False,
    tags=["example"],
):

    @task
    def check_hour_before(data_interval_start=None, data_interval_end=None):
        assert data_interval_end - data_interval_start == timedelta(hours=1), (data_interval_start, data_interval_end)

    check_hour_before()
