"""``depends_on_past`` / ``wait_for_downstream`` decisions, and how the planner treats a held task."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tradewind import DAG, EmptyOperator
from tradewind.decisions.past_dependencies import PastDependency, PreviousRun, held_back, past_dependency
from tradewind.decisions.planner import TaskNode, TIView, plan_run
from tradewind.sdk.serialization import deserialize_dag, serialize_dag
from tradewind.states import DagRunState
from tradewind.states import TaskInstanceState as TI

NOW = datetime(2024, 1, 2, tzinfo=UTC)
PLAIN = PastDependency()


def previous(**states: str | list[str]) -> PreviousRun:
    return PreviousRun("scheduled__2024-01-01", {k: [v] if isinstance(v, str) else v for k, v in states.items()})


def test_the_first_run_ignores_depends_on_past():
    assert held_back({"load": PLAIN}, None) == {}


@pytest.mark.parametrize("state", ["success", "skipped"])
def test_a_previous_success_or_skip_lets_the_task_go(state):
    assert held_back({"load": PLAIN}, previous(load=state)) == {}


@pytest.mark.parametrize("state", ["failed", "running", "none", "upstream_failed", "up_for_retry"])
def test_a_previous_instance_not_done_holds_the_task_back_and_says_why(state):
    held = held_back({"load": PLAIN}, previous(load=state))
    assert held == {
        "load": f"depends_on_past: 'load' in the previous run 'scheduled__2024-01-01' is {state}, "
        "not success or skipped"
    }


def test_every_map_index_of_the_previous_task_must_be_done():
    assert "load" in held_back({"load": PLAIN}, previous(load=["success", "failed"]))
    assert held_back({"load": PLAIN}, previous(load=["success", "skipped"])) == {}


def test_a_task_new_to_the_dag_runs_when_ignore_first_depends_on_past():
    assert held_back({"new": PLAIN}, previous(other="success")) == {}


def test_a_task_missing_from_the_previous_run_but_seen_earlier_waits():
    held = held_back({"load": PLAIN}, previous(other="success"), tasks_seen_before={"load"})
    assert "has no instance of 'load'" in held["load"]


def test_without_ignore_first_depends_on_past_a_missing_previous_instance_waits():
    strict = PastDependency(ignore_first_depends_on_past=False)
    assert "load" in held_back({"load": strict}, previous(other="success"))


def test_wait_for_downstream_needs_the_direct_downstream_of_the_previous_run_done():
    waits = PastDependency(wait_for_downstream=True, downstream=frozenset({"report", "publish"}))
    held = held_back({"load": waits}, previous(load="success", report="success", publish="running"))
    assert held == {
        "load": "wait_for_downstream: 'publish' in the previous run 'scheduled__2024-01-01' is "
        "running, not success or skipped"
    }
    assert held_back({"load": waits}, previous(load="success", report="skipped", publish="success")) == {}


def test_wait_for_downstream_implies_depends_on_past_and_round_trips_through_serialization():
    with DAG("d", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=True) as dag:
        load = EmptyOperator(task_id="load", wait_for_downstream=True)
        free = EmptyOperator(task_id="free")
        EmptyOperator(task_id="strict", depends_on_past=True, ignore_first_depends_on_past=False)
        load >> free
    assert load.depends_on_past is True
    for shape in (dag, deserialize_dag(serialize_dag(dag))):
        assert past_dependency(shape, shape.get_task("load")) == PastDependency(
            wait_for_downstream=True, downstream=frozenset({"free"}), previous_scheduled_only=True
        )
        assert past_dependency(shape, shape.get_task("free")) is None
        assert past_dependency(shape, shape.get_task("strict")).ignore_first_depends_on_past is False


def _node(task_id: str, *upstream: str) -> TaskNode:
    return TaskNode(
        task_id=task_id,
        upstream=frozenset(upstream),
        trigger_rule="all_success",
        retries=0,
        past=PLAIN,
    )


def test_a_held_task_is_not_scheduled_and_its_run_is_not_deadlocked():
    tasks = {"load": _node("load"), "report": _node("report", "load")}
    tis = [TIView("load", -1, TI.NONE, 0, 0), TIView("report", -1, TI.NONE, 0, 0)]

    plan = plan_run(tasks, tis, NOW, held={"load"})

    assert plan.schedule == [] and plan.run_state is None
    assert [d.task_id for d in plan_run(tasks, tis, NOW).schedule] == ["load"]


def test_a_held_task_whose_upstream_failed_still_ends_upstream_failed():
    tasks = {"extract": _node("extract"), "load": _node("load", "extract")}
    tis = [TIView("extract", -1, TI.FAILED, 1, 0), TIView("load", -1, TI.NONE, 0, 0)]

    plan = plan_run(tasks, tis, NOW, held={"load"})

    assert plan.upstream_failed == [("load", -1)] and plan.run_state == DagRunState.FAILED
