"""TaskFlow: a pipeline written as plain Python functions with ``@dag`` and ``@task``.

Calling a ``@task`` function inside the ``@dag`` function adds a task; passing its result to
another ``@task`` makes the dependency and moves the value through XCom. ``transform`` uses
``multiple_outputs=True``, so each key of the dict it returns is its own XCom and
``summary["total"]`` refers to one of them. ``load`` raises if the numbers are not the expected
ones.

Expected final states (the run: success):

    extract     success
    transform   success
    load        success
"""

import pendulum

from tradewind import dag, task


@dag(
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example", "taskflow"],
)
def example_taskflow():
    @task
    def extract():
        return {"orders": [12.5, 7.25, 30.0]}

    @task(multiple_outputs=True)
    def transform(data):
        orders = data["orders"]
        return {"total": sum(orders), "count": len(orders)}

    @task
    def load(total, count):
        if (total, count) != (49.75, 3):
            raise ValueError(f"expected a total of 49.75 over 3 orders, got {total} over {count}")
        print(f"loaded {count} orders worth {total}")

    summary = transform(extract())
    load(summary["total"], summary["count"])


example_taskflow()
