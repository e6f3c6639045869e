"""A custom timetable from a plugin: a run after each workday, none for the weekend.

The timetable lives in the plugins folder (``examples/plugins/workday_plugin.py``), which registers
it and a macro; the DAG file imports it from there, as in Airflow. Run with
``TRADEWIND_PLUGINS_FOLDER`` naming that folder (``tradewind plugins`` lists what it provides).

- ``check_interval`` finds the run's data interval to be one weekday long (a run triggered by hand
  covers the last weekday before it: on Monday 1 January 2024, Friday 29 December).
- ``check_macro`` renders the plugin's macro on the workday the run covers (its data interval's
  start; the run's own date may be a weekend day, whenever it is triggered):
  ``{{ macros.workday_plugin.is_workday(data_interval_start | ds) }}``.

Expected final states (the run: success):

    check_interval   success
    check_macro      success
"""

from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.operators.bash import BashOperator
from workday_plugin import AfterWorkdayTimetable

with DAG(
    dag_id="example_plugin_timetable",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    timetable=AfterWorkdayTimetable(),
    catchup=False,
    tags=["example"],
) as dag:

    @task
    def check_interval(data_interval_start=None, data_interval_end=None):
        assert data_interval_end - data_interval_start == timedelta(days=1), (data_interval_start, data_interval_end)
        assert data_interval_start.weekday() < 5, f"{data_interval_start} is not a weekday"
        print(f"this run covers {data_interval_start.format('dddd D MMMM YYYY')}")

    check_macro = BashOperator(
        task_id="check_macro",
        bash_command=(
            'test "{{ macros.workday_plugin.is_workday(data_interval_start | ds) }}" = True'
            ' && echo "{{ data_interval_start | ds }} is a workday"'
        ),
    )

    check_interval() >> check_macro
