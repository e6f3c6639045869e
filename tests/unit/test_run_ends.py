"""Which run ends owe a DAG-level callback, and with which reason."""

from __future__ import annotations

from datetime import UTC, datetime

from tradewind import DAG, EmptyOperator
from tradewind.decisions.run_ends import RunEnd, ZombieEnd, has_dag_callbacks, run_end, zombie_end
from tradewind.sdk.serialization import deserialize_dag, serialize_dag


def _serialized(**callbacks):
    with DAG("d", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), **callbacks) as dag:
        EmptyOperator(task_id="t")
    return deserialize_dag(serialize_dag(dag))


def test_each_end_owes_only_the_callback_the_dag_has():
    only_failure = _serialized(on_failure_callback=print)

    assert run_end(only_failure, "r", "failed") == RunEnd("d", "r", "failed", "task_failure")
    assert run_end(only_failure, "r", "failed", timed_out=True).reason == "timed_out"
    assert run_end(only_failure, "r", "success") is None
    assert run_end(_serialized(on_success_callback=print), "r", "success").callback_name == "on_success_callback"


def test_a_dag_without_callbacks_owes_nothing_and_the_scheduler_need_not_hold_its_runs():
    plain = _serialized()

    assert not has_dag_callbacks(plain)
    assert run_end(plain, "r", "failed") is None and run_end(plain, "r", "success") is None
    assert has_dag_callbacks(_serialized(on_success_callback=[print]))


def test_a_zombie_owes_the_callback_of_the_state_its_try_ended_in_if_the_task_has_it():
    with DAG("z", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
        EmptyOperator(task_id="with_failure", on_failure_callback=print)
        EmptyOperator(task_id="plain")
    tasks = deserialize_dag(serialize_dag(dag)).task_dict

    failed = zombie_end(tasks["with_failure"], "z", "r", -1, 2, "failed", "zombie: gone")
    assert failed == ZombieEnd("z", "r", "with_failure", -1, 2, "failed", "zombie: gone")
    assert failed.callback_name == "on_failure_callback"
    assert zombie_end(tasks["with_failure"], "z", "r", -1, 1, "up_for_retry", "zombie: gone") is None
    assert zombie_end(tasks["plain"], "z", "r", -1, 1, "failed", "zombie: gone") is None
