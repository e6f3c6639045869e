"""EventsTimetable: runs at listed dates (here the quarter closes of three years).

Each run's data interval is its event, a point in time. With ``restrict_to_events``, a run triggered
by hand covers the latest event before the trigger (the first one if none has passed).

- ``check_on_an_event`` finds its data interval to be one of the events.

Expected final states (the run: success):

    check_on_an_event   success
"""

import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.timetables.events import EventsTimetable

QUARTER_CLOSES = [
    pendulum.datetime(year, month, 1, 18, tz="UTC") for year in (2023, 2024, 2025) for month in (1, 4, 7, 10)
]


with DAG(
    dag_id="example_events_timetable",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    timetable=EventsTimetable(event_dates=QUARTER_CLOSES, restrict_to_events=True, description="quarter closes"),
    catchup=False,
    tags=["example"],
):

    @task
    def check_on_an_event(data_interval_start=None, data_interval_end=None):
        assert data_interval_start == data_interval_end, "an event is a point in time"
        assert data_interval_start in QUARTER_CLOSES, f"{data_interval_start} is not a quarter close"

    check_on_an_event()
