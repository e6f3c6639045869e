"""Object storage: ``ObjectStoragePath`` reads, writes, lists and copies files the same way on the
local disk (``file://`` or a plain path) and on any file system fsspec reaches (``s3://``,
``gs://`` … where their fsspec package is installed). Needs ``fsspec`` (``pip install 'tradewind[io]'``).

- ``write_orders`` writes two CSV files under the run's own folder (``/`` joins paths).
- ``archive`` copies the ``raw`` folder to ``archive`` and returns the names it finds there (``glob``).
- ``summarise`` reads the archived files back (``iterdir``, ``read_text``) and checks the totals.
- ``clean_up`` removes the run's folder, whatever happened before it.

Expected final states (the run: success):

    write_orders   success
    archive        success
    summarise      success
    clean_up       success
"""

import tempfile

import pendulum

from tradewind import DAG, TriggerRule, task

# Building a path touches no file system: that happens when a task uses it.
BASE = f"file://{tempfile.gettempdir()}/tradewind-example-object-storage"


with DAG(
    dag_id="example_object_storage",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:

    @task
    def write_orders(run_id=None):
        from airflow.io.path import ObjectStoragePath

        raw = ObjectStoragePath(BASE) / run_id.replace(":", "_") / "raw"
        (raw / "east.csv").write_text("order,amount\n1,10\n2,15\n")
        (raw / "west.csv").write_text("order,amount\n3,20\n")
        return str(raw.parent)

    @task
    def archive(folder):
        from airflow.io.path import ObjectStoragePath

        run_folder = ObjectStoragePath(folder)
        (run_folder / "raw").copy(run_folder / "archive")
        return sorted(path.name for path in (run_folder / "archive").glob("*.csv"))

    @task
    def summarise(folder, names):
        from airflow.io.path import ObjectStoragePath

        assert names == ["east.csv", "west.csv"], names
        total = 0
        for path in (ObjectStoragePath(folder) / "archive").iterdir():
            rows = path.read_text().splitlines()[1:]
            total += sum(int(row.split(",")[1]) for row in rows)
        assert total == 45, total
        return total

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def clean_up(folder):
        from airflow.io.path import ObjectStoragePath

        ObjectStoragePath(folder).rmdir(recursive=True)
        assert not ObjectStoragePath(folder).exists()

    folder = write_orders()
    names = archive(folder)
    summarise(folder, names) >> clean_up(folder)
