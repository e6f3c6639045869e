"""Short-circuiting: a ShortCircuitOperator whose callable returns False skips what follows it.

Three chains:

- ``check_true`` returns True, so ``after_true`` runs.
- ``check_false`` returns False. By default (``ignore_downstream_trigger_rules=True``) every task
  downstream of it is skipped, however far away and whatever its trigger rule: even
  ``skipped_all_done``, whose rule is ``all_done``.
- ``check_false_keep_rules`` returns False with ``ignore_downstream_trigger_rules=False``: only
  its direct downstream task is skipped, and the tasks after that follow their own trigger rules,
  so ``runs_all_done`` (``all_done``) still runs.

A short-circuit operator itself succeeds either way.

Expected final states (the run: success, since every leaf succeeded or was skipped):

    check_true               success
    after_true               success
    check_false              success
    skipped_step             skipped
    skipped_all_done         skipped
    check_false_keep_rules   success
    skipped_child            skipped
    runs_all_done            success
"""

import pendulum

from tradewind import DAG, EmptyOperator, ShortCircuitOperator, TriggerRule


def always_true():
    return True


def always_false():
    return False


with DAG(
    dag_id="example_short_circuit",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example"],
) as dag:
    check_true = ShortCircuitOperator(task_id="check_true", python_callable=always_true)
    after_true = EmptyOperator(task_id="after_true")
    check_true >> after_true

    check_false = ShortCircuitOperator(task_id="check_false", python_callable=always_false)
    skipped_step = EmptyOperator(task_id="skipped_step")
    skipped_all_done = EmptyOperator(task_id="skipped_all_done", trigger_rule=TriggerRule.ALL_DONE)
    check_false >> skipped_step >> skipped_all_done

    check_keep_rules = ShortCircuitOperator(
        task_id="check_false_keep_rules",
        python_callable=always_false,
        ignore_downstream_trigger_rules=False,
    )
    skipped_child = EmptyOperator(task_id="skipped_child")
    runs_all_done = EmptyOperator(task_id="runs_all_done", trigger_rule=TriggerRule.ALL_DONE)
    check_keep_rules >> skipped_child >> runs_all_done
