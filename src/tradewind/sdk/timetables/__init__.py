"""Timetables: what decides when a DAG runs and which data interval each run covers (Airflow's
``airflow.timetables``). ``base`` holds the API a custom timetable implements; the other modules are
the built-ins; ``registry`` turns any of them into JSON and back."""
