"""The pure planner, as scenarios a DAG author recognises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind import DAG, BashOperator
from tradewind.decisions.planner import (
    RunPlan,
    TaskNode,
    TIView,
    leaf_task_ids,
    plan_run,
    topological_order,
)
from tradewind.decisions.retries import RetryPolicy, decide_failure, retry_delay_for
from tradewind.errors import DagCycleError
from tradewind.sdk.serialization import deserialize_dag, serialize_dag
from tradewind.states import DagRunState
from tradewind.states import TaskInstanceState as TI

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def node(task_id: str, *upstream: str, rule: str = "all_success", **kwargs: object) -> TaskNode:
    settings: dict[str, object] = {"retries": 0}
    settings.update(kwargs)
    return TaskNode(task_id=task_id, upstream=frozenset(upstream), trigger_rule=rule, **settings)  # type: ignore[arg-type]


def dag(*nodes: TaskNode) -> dict[str, TaskNode]:
    return {n.task_id: n for n in nodes}


def ti(
    task_id: str,
    state: TI = TI.NONE,
    *,
    try_number: int = 0,
    max_tries: int = 0,
    map_index: int = -1,
    retry_at: datetime | None = None,
    next_poke_at: datetime | None = None,
) -> TIView:
    return TIView(task_id, map_index, state, try_number, max_tries, retry_at, next_poke_at)


def scheduled(plan: RunPlan) -> list[tuple[str, int]]:
    """(task_id, new try number) of every task instance the plan schedules."""
    return [(d.task_id, d.try_number) for d in plan.schedule]


def ids(keys: list[tuple[str, int]]) -> list[str]:
    return [task_id for task_id, _ in keys]


# --- the happy path ---


def test_linear_chain_schedules_only_the_root_first() -> None:
    tasks = dag(node("extract"), node("transform", "extract"), node("load", "transform"))
    plan = plan_run(tasks, [ti("extract"), ti("transform"), ti("load")], NOW)
    assert scheduled(plan) == [("extract", 1)]
    assert plan.schedule[0].from_state is TI.NONE
    assert plan.skip == [] and plan.upstream_failed == []
    assert plan.run_state is None
    assert plan.next_wakeup is None


def test_the_next_task_is_scheduled_once_its_upstream_succeeds() -> None:
    tasks = dag(node("extract"), node("transform", "extract"), node("load", "transform"))
    plan = plan_run(tasks, [ti("extract", TI.SUCCESS, try_number=1), ti("transform"), ti("load")], NOW)
    assert scheduled(plan) == [("transform", 1)]


def test_queued_running_and_finished_task_instances_are_left_alone() -> None:
    tasks = dag(node("a"), node("b"), node("c"), node("d"))
    plan = plan_run(tasks, [ti("a", TI.SCHEDULED), ti("b", TI.QUEUED), ti("c", TI.RUNNING), ti("d", TI.SUCCESS)], NOW)
    assert plan == RunPlan()


def test_higher_priority_weight_is_scheduled_first() -> None:
    tasks = dag(node("low"), node("high", priority_weight=10), node("mid", priority_weight=5))
    plan = plan_run(tasks, [ti("low"), ti("high"), ti("mid")], NOW)
    assert [d.task_id for d in plan.schedule] == ["high", "mid", "low"]


def test_decision_carries_the_pool_and_queue_of_the_task() -> None:
    tasks = dag(node("a", pool="db", pool_slots=2, queue="heavy", priority_weight=3))
    (decision,) = plan_run(tasks, [ti("a")], NOW).schedule
    assert (decision.pool, decision.pool_slots, decision.queue, decision.priority_weight) == (
        "db",
        2,
        "heavy",
        3,
    )


def test_run_succeeds_when_leaves_succeed_or_are_skipped() -> None:
    tasks = dag(node("start"), node("report", "start"), node("optional", "start"))
    tis = [ti("start", TI.SUCCESS), ti("report", TI.SUCCESS), ti("optional", TI.SKIPPED)]
    assert plan_run(tasks, tis, NOW).run_state is DagRunState.SUCCESS


def test_a_failure_handled_by_an_all_done_leaf_leaves_the_run_successful() -> None:
    # Airflow judges a run by its leaves: a cleanup task that ran after a failure makes it a success.
    tasks = dag(node("work"), node("cleanup", "work", rule="all_done"))
    plan = plan_run(tasks, [ti("work", TI.FAILED, try_number=1), ti("cleanup")], NOW)
    assert scheduled(plan) == [("cleanup", 1)]
    assert plan.run_state is None
    done = plan_run(tasks, [ti("work", TI.FAILED, try_number=1), ti("cleanup", TI.SUCCESS, try_number=1)], NOW)
    assert done.run_state is DagRunState.SUCCESS


# --- failures and skips propagate in one plan ---


def test_failed_upstream_marks_the_whole_downstream_chain_upstream_failed_and_fails_the_run() -> None:
    tasks = dag(node("a"), node("b", "a"), node("c", "b"), node("d", "c"))
    plan = plan_run(tasks, [ti("a", TI.FAILED, try_number=1), ti("b"), ti("c"), ti("d")], NOW)
    assert ids(plan.upstream_failed) == ["b", "c", "d"]
    assert plan.schedule == [] and plan.skip == []
    assert plan.run_state is DagRunState.FAILED


def test_unselected_branch_skips_its_whole_chain_and_the_join_runs() -> None:
    # branch -> (left -> left_2) | (right -> right_2) -> join; the branch chose "left", so Airflow's
    # branch operator has skipped "right" itself.
    tasks = dag(
        node("branch"),
        node("left", "branch"),
        node("left_2", "left"),
        node("right", "branch"),
        node("right_2", "right"),
        node("join", "left_2", "right_2", rule="none_failed_min_one_success"),
    )
    tis = {
        t.task_id: t
        for t in [
            ti("branch", TI.SUCCESS, try_number=1),
            ti("left"),
            ti("left_2"),
            ti("right", TI.SKIPPED),
            ti("right_2"),
            ti("join"),
        ]
    }
    plan = plan_run(tasks, list(tis.values()), NOW)
    assert scheduled(plan) == [("left", 1)]
    assert ids(plan.skip) == ["right_2"]
    assert plan.run_state is None

    tis.update(
        left=ti("left", TI.SUCCESS, try_number=1),
        left_2=ti("left_2", TI.SUCCESS, try_number=1),
        right_2=ti("right_2", TI.SKIPPED),
    )
    plan = plan_run(tasks, list(tis.values()), NOW)
    assert scheduled(plan) == [("join", 1)]

    tis["join"] = ti("join", TI.SUCCESS, try_number=1)
    assert plan_run(tasks, list(tis.values()), NOW).run_state is DagRunState.SUCCESS


def test_a_skipped_branch_skips_an_all_success_join_and_the_run_still_succeeds() -> None:
    tasks = dag(node("branch"), node("right", "branch"), node("join", "right"), node("after", "join"))
    tis = [ti("branch", TI.SUCCESS), ti("right", TI.SKIPPED), ti("join"), ti("after")]
    plan = plan_run(tasks, tis, NOW)
    assert ids(plan.skip) == ["join", "after"]
    assert plan.run_state is DagRunState.SUCCESS


def test_one_failed_task_runs_as_soon_as_one_upstream_fails_even_while_others_run() -> None:
    tasks = dag(node("a"), node("b"), node("alert", "a", "b", rule="one_failed"))
    plan = plan_run(tasks, [ti("a", TI.FAILED, try_number=1), ti("b", TI.RUNNING, try_number=1), ti("alert")], NOW)
    assert scheduled(plan) == [("alert", 1)]
    assert plan.run_state is None


def test_every_map_index_of_an_upstream_counts() -> None:
    tasks = dag(node("fan_out"), node("gather", "fan_out"))
    tis = [
        ti("fan_out", TI.SUCCESS, map_index=0),
        ti("fan_out", TI.FAILED, map_index=1),
        ti("fan_out", TI.RUNNING, map_index=2),
        ti("gather"),
    ]
    assert ids(plan_run(tasks, tis, NOW).upstream_failed) == ["gather"]


def test_every_map_index_of_a_ready_task_is_scheduled() -> None:
    tasks = dag(node("start"), node("mapped", "start"))
    tis = [ti("start", TI.SUCCESS), ti("mapped", map_index=1), ti("mapped", map_index=0)]
    plan = plan_run(tasks, tis, NOW)
    assert [(d.task_id, d.map_index) for d in plan.schedule] == [("mapped", 0), ("mapped", 1)]


# --- retries and reschedules ---


def test_retry_waits_for_retry_at_then_gets_the_next_try_number() -> None:
    tasks = dag(node("flaky", retries=2))
    retry_at = NOW + timedelta(minutes=5)
    waiting = ti("flaky", TI.UP_FOR_RETRY, try_number=1, max_tries=2, retry_at=retry_at)

    early = plan_run(tasks, [waiting], NOW)
    assert early.schedule == []
    assert early.next_wakeup == retry_at
    assert early.run_state is None

    due = plan_run(tasks, [waiting], retry_at)
    assert scheduled(due) == [("flaky", 2)]
    assert due.schedule[0].from_state is TI.UP_FOR_RETRY
    assert due.next_wakeup is None


def test_reschedule_sensor_returns_with_the_same_try_at_next_poke_at() -> None:
    tasks = dag(node("wait_for_file"))
    poke_at = NOW + timedelta(seconds=60)
    sensor = ti("wait_for_file", TI.UP_FOR_RESCHEDULE, try_number=1, next_poke_at=poke_at)

    early = plan_run(tasks, [sensor], NOW)
    assert early.schedule == [] and early.next_wakeup == poke_at

    due = plan_run(tasks, [sensor], poke_at + timedelta(seconds=1))
    assert scheduled(due) == [("wait_for_file", 1)]  # a reschedule does not use up a try
    assert due.schedule[0].from_state is TI.UP_FOR_RESCHEDULE


def test_next_wakeup_is_the_earliest_pending_time() -> None:
    tasks = dag(node("a"), node("b"), node("c"), node("d"))
    tis = [
        ti("a", TI.UP_FOR_RETRY, try_number=1, max_tries=3, retry_at=NOW + timedelta(minutes=10)),
        ti("b", TI.UP_FOR_RESCHEDULE, try_number=1, next_poke_at=NOW + timedelta(minutes=2)),
        ti("c", TI.UP_FOR_RETRY, try_number=1, max_tries=3, retry_at=NOW - timedelta(minutes=1)),
        ti("d", TI.RUNNING, try_number=1),
    ]
    plan = plan_run(tasks, tis, NOW)
    assert scheduled(plan) == [("c", 2)]  # already due, so not a wakeup
    assert plan.next_wakeup == NOW + timedelta(minutes=2)


def test_exponential_backoff_doubles_and_is_capped() -> None:
    capped = RetryPolicy(retry_delay_s=60.0, retry_exponential_backoff=True, max_retry_delay_s=300.0)
    assert [retry_delay_for(capped, n) for n in range(1, 6)] == [60.0, 120.0, 240.0, 300.0, 300.0]

    default_cap = RetryPolicy(retry_delay_s=3600.0, retry_exponential_backoff=True)
    assert retry_delay_for(default_cap, 5) == 16 * 3600.0
    assert retry_delay_for(default_cap, 6) == 24 * 3600.0  # 32 h, capped at Airflow's 24 h
    assert retry_delay_for(default_cap, 10_000) == 24 * 3600.0  # no float overflow


def test_without_backoff_the_retry_delay_is_constant() -> None:
    plain = RetryPolicy(retry_delay_s=90.0, max_retry_delay_s=10.0)
    assert [retry_delay_for(plain, n) for n in (1, 2, 7)] == [90.0, 90.0, 90.0]


def test_a_live_task_and_its_serialized_form_have_the_same_retry_policy() -> None:
    with DAG("retrying", schedule=None, start_date=NOW) as live:
        BashOperator(
            task_id="t",
            bash_command="true",
            retry_delay=timedelta(minutes=1),
            retry_exponential_backoff=True,
            max_retry_delay=timedelta(minutes=10),
        )
    expected = RetryPolicy(retry_delay_s=60.0, retry_exponential_backoff=True, max_retry_delay_s=600.0)
    assert RetryPolicy.from_task(live.get_task("t")) == expected
    assert RetryPolicy.from_task(deserialize_dag(serialize_dag(live)).get_task("t")) == expected


def test_failed_try_with_tries_left_is_retried_after_the_delay() -> None:
    task = RetryPolicy(retry_delay_s=60.0, retry_exponential_backoff=True)
    assert decide_failure(task, 1, 2, NOW, fail_fast=False) == (TI.UP_FOR_RETRY, NOW + timedelta(seconds=60))
    assert decide_failure(task, 2, 2, NOW, fail_fast=False) == (TI.UP_FOR_RETRY, NOW + timedelta(seconds=120))
    assert decide_failure(task, 3, 2, NOW, fail_fast=False) == (TI.FAILED, None)


def test_fail_fast_and_no_retries_fail_at_once() -> None:
    task = RetryPolicy(retry_delay_s=300.0)
    assert decide_failure(task, 1, 3, NOW, fail_fast=True) == (TI.FAILED, None)
    assert decide_failure(task, 1, 0, NOW, fail_fast=False) == (TI.FAILED, None)


def test_a_failed_leaf_with_retries_left_keeps_the_run_going() -> None:
    tasks = dag(node("a", retries=1))
    tis = [ti("a", TI.UP_FOR_RETRY, try_number=1, max_tries=1, retry_at=NOW + timedelta(seconds=5))]
    assert plan_run(tasks, tis, NOW).run_state is None


# --- deadlock and odd inputs ---


def test_deadlock_is_detected_when_nothing_can_ever_move() -> None:
    # "load" waits on "transform", which has no task instance in this run (e.g. a partial run):
    # Airflow counts upstream tasks, so that upstream never finishes and the run is deadlocked.
    tasks = dag(node("extract"), node("transform", "extract"), node("load", "transform"))
    plan = plan_run(tasks, [ti("extract", TI.SUCCESS, try_number=1), ti("load")], NOW)
    assert plan.schedule == []
    assert plan.run_state is DagRunState.FAILED


def test_no_deadlock_while_an_upstream_waits_for_its_retry() -> None:
    tasks = dag(node("a", retries=1), node("b", "a"))
    tis = [ti("a", TI.UP_FOR_RETRY, try_number=1, max_tries=1, retry_at=NOW + timedelta(hours=1)), ti("b")]
    assert plan_run(tasks, tis, NOW).run_state is None


def test_task_instances_of_tasks_no_longer_in_the_dag_are_ignored() -> None:
    tasks = dag(node("a"))
    plan = plan_run(tasks, [ti("a", TI.SUCCESS), ti("gone")], NOW)
    assert plan.schedule == []
    assert plan.run_state is DagRunState.SUCCESS


def test_states_given_as_strings_are_understood() -> None:
    tasks = dag(node("a"), node("b", "a"))
    tis = [TIView("a", -1, "up_for_retry", 1, 1, NOW, None), TIView("b", -1, "none", 0, 0, None, None)]  # type: ignore[arg-type]
    assert scheduled(plan_run(tasks, tis, NOW)) == [("a", 2)]


def test_topological_order_is_stable_and_a_cycle_is_reported() -> None:
    tasks = dag(node("c", "a"), node("b", "a"), node("a"), node("d", "b", "c"))
    assert topological_order(tasks) == ["a", "b", "c", "d"]
    assert leaf_task_ids(tasks) == {"d"}
    with pytest.raises(DagCycleError, match="x, y"):
        topological_order(dag(node("x", "y"), node("y", "x"), node("z")))
