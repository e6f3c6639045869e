"""Setup and teardown with TaskFlow: ``@setup``, ``@teardown`` and a ``with`` block.

Inside ``with create_bucket() >> delete_bucket():`` every task created goes between the two:
``load`` and ``summarize`` below the setup, above the teardown. ``load`` fails on purpose, so
``summarize`` never runs (upstream_failed) — but ``delete_bucket`` still runs: a teardown runs
after its work failed, as long as its setup succeeded.

``warm_cache`` is a setup that skips itself (no cache to warm today): the work inside it,
``use_cache``, and its teardown ``drop_cache`` are skipped with it.

THE RUN FAILS, and that is the expected outcome: ``summarize`` is the last work task and ended
upstream_failed. The teardown's success does not change that, nor would its failure.

Expected final states (the run: failed):

    create_bucket   success
    load            failed
    summarize       upstream_failed
    delete_bucket   success
    warm_cache      skipped
    use_cache       skipped
    drop_cache      skipped
"""

import pendulum
from airflow.decorators import dag, setup, task, teardown
from airflow.exceptions import AirflowSkipException


@dag(start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None, catchup=False, tags=["example"])
def example_setup_teardown_taskflow():
    @setup
    def create_bucket() -> str:
        print("bucket created")
        return "bucket-1"

    @task(retries=0)
    def load(bucket: str) -> None:
        raise RuntimeError(f"loading into {bucket} fails on purpose")

    @task
    def summarize() -> None:
        print("never runs")

    @teardown
    def delete_bucket(bucket: str) -> None:
        print(f"deleting {bucket}")

    bucket = create_bucket()
    with bucket >> delete_bucket(bucket):
        load(bucket) >> summarize()

    @setup
    @task
    def warm_cache() -> None:
        raise AirflowSkipException("no cache to warm today")

    @task
    def use_cache() -> None:
        print("never runs")

    @teardown
    @task
    def drop_cache() -> None:
        print("never runs")

    with warm_cache() >> drop_cache():
        use_cache()


example_setup_teardown_taskflow()
