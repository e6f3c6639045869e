"""Sensors: tasks that wait for a condition, poking until it holds.

- ``wait_in_poke_mode`` is a PythonSensor in ``poke`` mode: it keeps its worker slot and calls its
  function every 0.1 s. The function counts its calls and says "ready" on the third.
- ``wait_in_reschedule_mode`` does the same in ``reschedule`` mode: between pokes it gives its
  slot back (the task instance is ``up_for_reschedule``) and is started again 0.2 s later.
- ``create_file`` writes a file and returns its path; ``wait_for_file`` is a FileSensor whose
  ``filepath`` is templated from that XCom, and it finishes once the file exists.
- ``cleanup`` removes this run's files.

The poke counters and the file live in ``.example_sensor_files/<run id>/`` next to this DAG file:
the DAG folder is the one directory that every worker sees, so the tasks agree even when they run
on different machines. (The dot keeps the DAG loader from looking inside.)

Expected final states (the run: success):

    wait_in_poke_mode         success
    wait_in_reschedule_mode   success
    create_file               success
    wait_for_file             success
    cleanup                   success
"""

import shutil
from pathlib import Path

import pendulum

from tradewind import DAG, FileSensor, PythonOperator, PythonSensor

FILES = Path(__file__).resolve().parent / ".example_sensor_files"
POKES_NEEDED = 3


def run_folder(run_id):
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    folder = FILES / safe
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ready_on_third_poke(counter, run_id):
    path = run_folder(run_id) / f"{counter}.pokes"
    pokes = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(pokes))
    print(f"{counter}: poke {pokes} of {POKES_NEEDED}")
    return pokes >= POKES_NEEDED


def create_file(run_id):
    path = run_folder(run_id) / "ready.txt"
    path.write_text("ready\n")
    return str(path)


def cleanup(run_id):
    shutil.rmtree(run_folder(run_id))
    try:
        FILES.rmdir()
    except OSError:
        pass  # another run still has files there


with DAG(
    dag_id="example_sensor",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:
    poke_mode = PythonSensor(
        task_id="wait_in_poke_mode",
        python_callable=ready_on_third_poke,
        op_kwargs={"counter": "poke_mode"},
        mode="poke",
        poke_interval=0.1,
        timeout=30,
    )
    reschedule_mode = PythonSensor(
        task_id="wait_in_reschedule_mode",
        python_callable=ready_on_third_poke,
        op_kwargs={"counter": "reschedule_mode"},
        mode="reschedule",
        poke_interval=0.2,
        timeout=60,
    )
    writer = PythonOperator(task_id="create_file", python_callable=create_file)
    wait_for_file = FileSensor(
        task_id="wait_for_file",
        filepath="{{ ti.xcom_pull(task_ids='create_file') }}",
        poke_interval=0.1,
        timeout=30,
    )
    remove_files = PythonOperator(task_id="cleanup", python_callable=cleanup)

    writer >> wait_for_file
    [poke_mode, reschedule_mode, wait_for_file] >> remove_files
