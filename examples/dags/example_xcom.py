"""XCom: small values that tasks pass to each other, pushed and pulled in three ways.

- ``push_explicitly`` calls ``ti.xcom_push(key="greeting", value="hello")``.
- ``push_by_returning`` returns a dict: a task's return value is pushed as ``return_value``.
- ``push_from_bash`` runs ``echo 42``: a BashOperator pushes the last line it printed.
- ``check_in_python`` pulls all three with ``ti.xcom_pull`` and gets the returned dict a fourth
  way, as an argument (``push_by_returning.output``, which also makes it a dependency). It raises
  if any value differs from what was pushed, so a wrong XCom fails the run.
- ``check_in_bash`` pulls inside a template: ``{{ ti.xcom_pull(...) }}``; ``test`` exits non-zero
  (and the task fails) on a mismatch.

Expected final states (the run: success):

    push_explicitly     success
    push_by_returning   success
    push_from_bash      success
    check_in_python     success
    check_in_bash       success
"""

import pendulum

from tradewind import DAG, BashOperator, PythonOperator

ORDER_SUMMARY = {"source": "orders", "rows": 3}


def push_explicitly(ti):
    ti.xcom_push(key="greeting", value="hello")


def push_by_returning():
    return ORDER_SUMMARY


def check_in_python(ti, summary):
    expected = {"greeting": "hello", "returned": ORDER_SUMMARY, "bash": "42", "argument": ORDER_SUMMARY}
    got = {
        "greeting": ti.xcom_pull(task_ids="push_explicitly", key="greeting"),
        "returned": ti.xcom_pull(task_ids="push_by_returning"),
        "bash": ti.xcom_pull(task_ids="push_from_bash"),
        "argument": summary,
    }
    if got != expected:
        raise ValueError(f"XCom mismatch: expected {expected}, got {got}")
    print(f"every XCom arrived intact: {got}")


with DAG(
    dag_id="example_xcom",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:
    pusher = PythonOperator(task_id="push_explicitly", python_callable=push_explicitly)
    returner = PythonOperator(task_id="push_by_returning", python_callable=push_by_returning)
    bash_pusher = BashOperator(task_id="push_from_bash", bash_command="echo 42")
    python_check = PythonOperator(
        task_id="check_in_python",
        python_callable=check_in_python,
        op_kwargs={"summary": returner.output},
    )
    bash_check = BashOperator(
        task_id="check_in_bash",
        bash_command="test \"{{ ti.xcom_pull(task_ids='push_explicitly', key='greeting') }}\" = hello",
    )

    [pusher, bash_pusher] >> python_check
    pusher >> bash_check
