"""Bash and Python tasks side by side, and what a task can read from its context.

- ``print_date`` runs ``echo {{ ds }}``: Jinja renders the run's logical date (``YYYY-MM-DD``)
  into the command before bash sees it.
- ``greet`` calls a Python function; ``op_kwargs`` become its keyword arguments.
- ``inspect_context`` names context keys as parameters (``ds``, ``ti``, ``dag_run``) and gets
  them, as in Airflow 2; it checks they agree with each other and raises if they do not.

Expected final states (the run: success):

    print_date        success
    greet             success
    inspect_context   success
"""

import pendulum

from tradewind import DAG, BashOperator, PythonOperator


def greet(name: str) -> str:
    message = f"Hello, {name}!"
    print(message)
    return message


def inspect_context(ds, ti, dag_run, **context):
    if ds != dag_run.logical_date.strftime("%Y-%m-%d"):
        raise ValueError(f"ds {ds!r} does not match the run's logical date {dag_run.logical_date}")
    if ti.task_id != "inspect_context" or context["task"].task_id != ti.task_id:
        raise ValueError(f"unexpected task instance {ti!r}")
    print(f"DAG {dag_run.dag_id}, run {dag_run.run_id}, ds {ds}, try {ti.try_number}")


with DAG(
    dag_id="example_bash_python",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule="@daily",
    catchup=False,
    tags=["example"],
) as dag:
    print_date = BashOperator(task_id="print_date", bash_command="echo {{ ds }}")
    say_hello = PythonOperator(task_id="greet", python_callable=greet, op_kwargs={"name": "tradewind"})
    read_context = PythonOperator(task_id="inspect_context", python_callable=inspect_context)

    print_date >> [say_hello, read_context]
