"""Branching and waiting on dates, and Bash and TaskFlow sensors.

- ``weekend_or_not`` (``BranchDayOfWeekOperator``) follows ``weekend_report`` on Saturdays and
  Sundays and ``weekday_report`` on other days, judged by the run's logical date
  (``use_task_logical_date=True``; without it, by today's date in the DAG's time zone).
- ``night_or_day`` (``BranchDateTimeOperator``) follows ``night_batch`` when the logical date's time
  of day lies between 00:00 and 06:00 and ``day_batch`` otherwise. (As in Airflow, a window of
  times that ends before it starts, 22:00 to 06:00, runs from 22:00 on that date to 06:00 the
  next day — so it does not hold 00:00 of that date.)
- ``wait_for_monday`` (``DayOfWeekSensor``) waits until the logical date is a Monday.
- ``wait_for_tmp`` (``BashSensor``) pokes until its command exits 0.
- ``wait_for_answer`` (``@task.sensor``) pokes a Python function; its ``PokeReturnValue`` carries
  the XCom that ``count_files`` (``@task.bash``) then uses in the command it returns.
- ``skip_on_99`` (``@task.bash``) returns a command that exits 99: the task is skipped.

Expected final states for ``tradewind dags test example_date_branching 2024-01-01`` (a Monday, at
midnight UTC; the run: success):

    weekend_or_not    success
    weekend_report    skipped
    weekday_report    success
    night_or_day      success
    night_batch       success
    day_batch         skipped
    wait_for_monday   success
    wait_for_tmp      success
    wait_for_answer   success
    count_files       success
    skip_on_99        skipped
"""

from datetime import time

import pendulum
from airflow.decorators import task
from airflow.models.dag import DAG
from airflow.operators.datetime import BranchDateTimeOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.weekday import BranchDayOfWeekOperator
from airflow.sensors.base import PokeReturnValue
from airflow.sensors.bash import BashSensor
from airflow.sensors.weekday import DayOfWeekSensor
from airflow.utils.weekday import WeekDay

with DAG(
    dag_id="example_date_branching",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
    tags=["example"],
) as dag:
    weekend_or_not = BranchDayOfWeekOperator(
        task_id="weekend_or_not",
        week_day={WeekDay.SATURDAY, WeekDay.SUNDAY},
        follow_task_ids_if_true="weekend_report",
        follow_task_ids_if_false="weekday_report",
        use_task_logical_date=True,
    )
    weekend_or_not >> [EmptyOperator(task_id="weekend_report"), EmptyOperator(task_id="weekday_report")]

    night_or_day = BranchDateTimeOperator(
        task_id="night_or_day",
        target_lower=time(0, 0),
        target_upper=time(6, 0),
        follow_task_ids_if_true="night_batch",
        follow_task_ids_if_false="day_batch",
        use_task_logical_date=True,
    )
    night_or_day >> [EmptyOperator(task_id="night_batch"), EmptyOperator(task_id="day_batch")]

    DayOfWeekSensor(task_id="wait_for_monday", week_day="Monday", use_task_logical_date=True, poke_interval=1)
    BashSensor(task_id="wait_for_tmp", bash_command="test -d /tmp", poke_interval=1, timeout=30)

    @task.sensor(poke_interval=1, timeout=30)
    def wait_for_answer() -> PokeReturnValue:
        return PokeReturnValue(is_done=True, xcom_value=42)

    @task.bash
    def count_files(answer: int) -> str:
        return f"echo the answer is {answer} on {{{{ ds }}}}"

    @task.bash
    def skip_on_99() -> str:
        return "echo nothing to do today; exit 99"

    count_files(wait_for_answer())
    skip_on_99()
