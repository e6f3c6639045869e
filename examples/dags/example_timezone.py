"""A DAG on local time: a cron schedule is read on the clock of the start date's time zone.

``schedule="0 2 * * *"`` with a start date in Europe/Amsterdam runs at 02:00 Amsterdam time all
year, as in Airflow: at 01:00 UTC in winter and 00:00 UTC in summer. On 31 March 2024 there is no
02:00 (the clocks jump from 02:00 to 03:00), so that day's run fires at 03:00 CEST, the instant
02:00 CET would have been; on 27 October 2024 there are two, and it fires on the second.

- ``check_local_window`` finds its data interval starting and ending at 02:00 local time.
- ``check_dst_days`` asks the DAG's timetable (Airflow's Timetable API) for the runs around both
  changes: the run across the spring change covers 23 hours, the one across the autumn change 25.

Expected final states (the run: success):

    check_local_window   success
    check_dst_days       success
"""

from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.timetables.base import DataInterval, TimeRestriction

AMSTERDAM = "Europe/Amsterdam"

with DAG(
    dag_id="example_timezone",
    start_date=pendulum.datetime(2024, 1, 1, 2, tz=AMSTERDAM),
    schedule="0 2 * * *",
    catchup=False,
    tags=["example"],
) as dag:

    @task
    def check_local_window(data_interval_start=None, data_interval_end=None):
        start, end = data_interval_start.in_timezone(AMSTERDAM), data_interval_end.in_timezone(AMSTERDAM)
        print(f"data interval {start} .. {end} (Amsterdam time)")
        # 03:00 only on the day whose 02:00 the spring change skips.
        assert start.hour in (2, 3) and end.hour in (2, 3), (start, end)
        assert (end.date() - start.date()).days == 1

    @task
    def check_dst_days(dag=None):
        def day_lengths(first_day):
            lengths, last = [], None
            restriction = TimeRestriction(earliest=first_day, latest=None, catchup=True)
            for _ in range(3):
                info = dag.timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
                last = DataInterval(info.data_interval.start, info.data_interval.end)
                lengths.append((last.end - last.start) / timedelta(hours=1))
            return lengths

        spring = day_lengths(pendulum.datetime(2024, 3, 30, 2, tz=AMSTERDAM))
        autumn = day_lengths(pendulum.datetime(2024, 10, 25, 2, tz=AMSTERDAM))
        print(f"hours per run from 30 March: {spring}; from 25 October: {autumn}")
        assert spring == [24, 23, 24], spring
        assert autumn == [24, 25, 24], autumn

    check_local_window() >> check_dst_days()
