"""Running a task in another Python: a virtual environment built for it, or an interpreter on the worker.

- ``in_venv`` (``@task.virtualenv``) runs in a virtual environment with no packages of its own
  (``requirements=[]``, no system site packages). With ``venv_cache_path`` the worker builds it
  once and every later task asking for the same one reuses it, so only the first run waits for it.
  Its argument and its return value cross into and out of that interpreter by pickle.
- ``templated_in_venv`` (``PythonVirtualenvOperator``) gets ``op_kwargs``, the run's ``ds`` (a
  plain string, so it crosses into any interpreter), ``templates_dict`` rendered by Jinja and
  ``string_args`` as the script's ``virtualenv_string_args``.
- ``pick_in_venv`` (``@task.branch_virtualenv``) picks ``small_batch``; ``big_batch`` is skipped.
- ``exit_99_in_venv`` exits with code 99, which its ``skip_on_exit_code`` makes a skip.
- ``on_worker_python`` (``@task.external_python``) runs with an interpreter already on the worker
  (this one, ``sys.executable``) and checks what the others returned.

Expected final states (the run: success):

    in_venv              success
    templated_in_venv    success
    pick_in_venv         success
    small_batch          success
    big_batch            skipped
    exit_99_in_venv      skipped
    on_worker_python     success
"""

import os
import sys
import tempfile

import pendulum

from tradewind import DAG, EmptyOperator, PythonVirtualenvOperator, task

#: One environment per worker machine, built by the first task that needs it.
VENV_CACHE = os.path.join(tempfile.gettempdir(), "tradewind-example-venvs")
VENV = {"requirements": [], "system_site_packages": False, "venv_cache_path": VENV_CACHE}


def report(greeting, ds, templates_dict):
    # Runs as a script of its own: whatever it needs, it imports itself.
    import sys

    line = f"{greeting} {ds} {templates_dict['table']} {' '.join(virtualenv_string_args)}"  # noqa: F821
    print(line)
    return {"line": line, "in_a_venv": sys.prefix != sys.base_prefix}


with DAG(
    dag_id="example_virtualenv",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:

    @task.virtualenv(**VENV)
    def in_venv(numbers):
        import sys

        return {"total": sum(numbers), "in_a_venv": sys.prefix != sys.base_prefix}

    templated = PythonVirtualenvOperator(
        task_id="templated_in_venv",
        python_callable=report,
        op_kwargs={"greeting": "hello"},
        templates_dict={"table": "orders_{{ ds_nodash }}"},
        string_args=["from", "a", "file"],
        **VENV,
    )

    @task.branch_virtualenv(**VENV)
    def pick_in_venv(rows):
        return "small_batch" if rows < 1000 else "big_batch"

    @task.virtualenv(skip_on_exit_code=99, **VENV)
    def exit_99_in_venv():
        import sys

        sys.exit(99)

    @task.external_python(python=sys.executable)
    def on_worker_python(summed, reported):
        assert summed == {"total": 6, "in_a_venv": True}, summed
        assert reported["in_a_venv"], reported
        assert reported["line"].startswith("hello ") and reported["line"].endswith(" from a file"), reported
        return "checked"

    summed = in_venv([1, 2, 3])
    pick_in_venv(12) >> [EmptyOperator(task_id="small_batch"), EmptyOperator(task_id="big_batch")]
    exit_99_in_venv()
    on_worker_python(summed, templated.output)
