"""Broken on purpose: Python refuses to compile this file ('return' outside function).

(A stray ``return`` rather than, say, an unclosed bracket, so that ruff can still lint the rest of
tests/dags: the noqa below silences the one complaint.)
"""

import pendulum

from tradewind import DAG, EmptyOperator

with DAG(
    dag_id="dag_syntax_error",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
) as dag:
    EmptyOperator(task_id="unreachable")

return dag  # noqa: F706
