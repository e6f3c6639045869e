"""What a clear / mark success / mark failed affects, as an Airflow user picks it in the UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind import DAG, BashOperator
from tradewind.actions.clear import RunRef, TIRef
from tradewind.actions.plan import ActionOptions, plan_action

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _dag() -> DAG:
    #  extract >> transform >> [load, report];  load >> notify
    with DAG("etl", schedule="@daily", start_date=T0) as dag:
        extract = BashOperator(task_id="extract", bash_command="true")
        transform = BashOperator(task_id="transform", bash_command="true", retries=2)
        load = BashOperator(task_id="load", bash_command="true")
        report = BashOperator(task_id="report", bash_command="true")
        notify = BashOperator(task_id="notify", bash_command="true")
        extract >> transform >> [load, report]
        load >> notify
    return dag


def _runs(count: int = 3, state: str = "success") -> list[RunRef]:
    return [RunRef(f"run_{day}", T0 + timedelta(days=day), state) for day in range(count)]


def _tis(runs: list[RunRef], states: dict[str, str] | None = None) -> list[TIRef]:
    states = states or {}
    return [
        TIRef(run.run_id, task_id, -1, states.get(task_id, "success"), 1)
        for run in runs
        for task_id in ("extract", "transform", "load", "report", "notify")
    ]


def _keys(plan) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(change.run_id, change.task_id) for change in plan.changes}


def test_mark_failed_with_downstream_selects_the_task_and_all_its_descendants_in_that_run() -> None:
    runs = _runs()
    plan = plan_action(
        "failed", _dag(), runs, _tis(runs), ActionOptions(task_ids=("transform",), run_id="run_1", downstream=True)
    )
    assert _keys(plan) == {("run_1", t) for t in ("transform", "load", "report", "notify")}
    assert {c.to_state for c in plan.changes} == {"failed"}
    assert {c.from_state for c in plan.changes} == {"success"}
    assert plan.reopen_run_ids == ["run_1"] and plan.reopen_state == "running"


def test_mark_success_with_upstream_selects_the_task_and_its_ancestors() -> None:
    runs = _runs(1)
    plan = plan_action(
        "success",
        _dag(),
        runs,
        _tis(runs, {t: "failed" for t in ("extract", "transform", "load", "notify")}),
        ActionOptions(task_ids=("notify",), run_id="run_0", upstream=True),
    )
    assert _keys(plan) == {("run_0", t) for t in ("extract", "transform", "load", "notify")}


def test_marking_skips_task_instances_already_in_the_target_state() -> None:
    runs = _runs(1)
    plan = plan_action(
        "success",
        _dag(),
        runs,
        _tis(runs, {"load": "failed"}),
        ActionOptions(task_ids=("transform",), run_id="run_0", downstream=True),
    )
    assert _keys(plan) == {("run_0", "load")}


def test_past_picks_the_same_task_in_earlier_runs_by_logical_date() -> None:
    runs = list(reversed(_runs(4)))  # the order given does not matter, the logical date does
    plan = plan_action("failed", _dag(), runs, _tis(runs), ActionOptions(task_ids=("load",), run_id="run_2", past=True))
    assert _keys(plan) == {("run_0", "load"), ("run_1", "load"), ("run_2", "load")}


def test_future_picks_the_same_task_in_later_runs_by_logical_date() -> None:
    runs = _runs(4)
    plan = plan_action(
        "clear", _dag(), runs, _tis(runs), ActionOptions(task_ids=("load",), run_id="run_2", future=True)
    )
    assert _keys(plan) == {("run_2", "load"), ("run_3", "load")}
    assert plan.reopen_run_ids == ["run_2", "run_3"] and plan.reopen_state == "queued"


def test_only_failed_clear_picks_failed_and_upstream_failed_only() -> None:
    runs = _runs(1, "failed")
    tis = _tis(
        runs, {"transform": "failed", "load": "upstream_failed", "notify": "upstream_failed", "report": "skipped"}
    )
    plan = plan_action("clear", _dag(), runs, tis, ActionOptions(run_id="run_0", only_failed=True))
    assert _keys(plan) == {("run_0", "transform"), ("run_0", "load"), ("run_0", "notify")}
    transform = next(c for c in plan.changes if c.task_id == "transform")
    assert (transform.to_state, transform.max_tries) == ("none", 3)


def test_clearing_a_whole_run_touches_only_that_run() -> None:
    runs = _runs(2)
    plan = plan_action("clear", _dag(), runs, _tis(runs), ActionOptions(run_id="run_1"))
    assert _keys(plan) == {("run_1", t) for t in ("extract", "transform", "load", "report", "notify")}


def test_a_running_task_instance_is_cleared_to_restarting() -> None:
    runs = _runs(1, "running")
    plan = plan_action(
        "clear", _dag(), runs, _tis(runs, {"load": "running"}), ActionOptions(task_ids=("load",), run_id="run_0")
    )
    assert [(c.task_id, c.to_state) for c in plan.changes] == [("load", "restarting")]
    assert plan.reopen_run_ids == []


def test_an_unknown_task_or_kind_is_refused() -> None:
    runs = _runs(1)
    with pytest.raises(ValueError, match="no task 'nope'"):
        plan_action("clear", _dag(), runs, _tis(runs), ActionOptions(task_ids=("nope",)))
    with pytest.raises(ValueError, match="unknown action"):
        plan_action("delete", _dag(), runs, _tis(runs), ActionOptions())
