"""Trigger rules: what a task does when an upstream task fails.

``fails_on_purpose`` exits with code 1 and has no retries, so it fails at once. Its siblings
show how three trigger rules react, each downstream of it and of ``succeeds``:

- ``needs_all_success`` (the default rule, ``all_success``) never runs: it becomes
  ``upstream_failed``.
- ``alert_on_failure`` (``one_failed``) runs because an upstream task failed.
- ``cleanup`` (``all_done``) runs once both upstream tasks have finished, whatever their outcome.

THE RUN FAILS, and that is the expected outcome: a run fails when any of its leaf tasks ends
failed or upstream_failed, and ``needs_all_success`` is a leaf.

Expected final states (the run: failed):

    fails_on_purpose    failed
    succeeds            success
    needs_all_success   upstream_failed
    alert_on_failure    success
    cleanup             success
"""

import pendulum

from tradewind import DAG, BashOperator, EmptyOperator, TriggerRule

with DAG(
    dag_id="example_trigger_rules",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:
    fails = BashOperator(task_id="fails_on_purpose", bash_command="echo 'failing on purpose'; exit 1", retries=0)
    succeeds = EmptyOperator(task_id="succeeds")
    needs_all_success = EmptyOperator(task_id="needs_all_success")
    alert = BashOperator(
        task_id="alert_on_failure",
        bash_command="echo 'an upstream task failed'",
        trigger_rule=TriggerRule.ONE_FAILED,
    )
    cleanup = EmptyOperator(task_id="cleanup", trigger_rule=TriggerRule.ALL_DONE)

    [fails, succeeds] >> needs_all_success
    [fails, succeeds] >> alert
    [fails, succeeds] >> cleanup
