"""What a clear / mark success / mark failed affects, as an Airflow user picks it in the UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind import DAG, BashOperator
from tradewind.actions.clear import RunRef, TIRef
from tradewind.actions.plan import ActionOptions, plan_action, plan_run_state

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


# --- a whole run marked failed / success / queued (Airflow 2.10's set_dag_run_state_to_*) -----------

_EVERY_STATE = {
    "extract": "success",
    "transform": "running",
    "load": "queued",
    "report": "up_for_retry",
    "notify": "none",
}


@pytest.mark.parametrize(
    ("state", "before", "after"),
    [
        # Failed: what runs fails, what has not finished is skipped, what finished keeps its state.
        ("failed", "running", "failed"),
        ("failed", "up_for_reschedule", "failed"),
        ("failed", "none", "skipped"),
        ("failed", "scheduled", "skipped"),
        ("failed", "queued", "skipped"),
        ("failed", "up_for_retry", "skipped"),
        ("failed", "restarting", "skipped"),
        ("failed", "success", None),
        ("failed", "failed", None),
        ("failed", "skipped", None),
        ("failed", "upstream_failed", None),
        ("failed", "removed", None),
        # Success: every task instance not yet successful, the finished ones too (as Airflow).
        ("success", "running", "success"),
        ("success", "none", "success"),
        ("success", "up_for_retry", "success"),
        ("success", "failed", "success"),
        ("success", "upstream_failed", "success"),
        ("success", "skipped", "success"),
        ("success", "success", None),
        # Queued: the whole run is cleared.
        ("queued", "success", "none"),
        ("queued", "failed", "none"),
        ("queued", "running", "restarting"),
        ("queued", "none", None),
    ],
)
def test_marking_a_whole_run_changes_each_task_instance_as_airflow_does(
    state: str, before: str, after: str | None
) -> None:
    run = RunRef("run_0", T0, "running")
    tis = [TIRef("run_0", "load", -1, before, 1)]
    plan = plan_run_state(_dag(), run, tis, state)
    assert [(c.task_id, c.from_state, c.to_state) for c in plan.changes] == ([("load", before, after)] if after else [])


def test_marking_a_run_failed_keeps_its_successes_and_touches_no_other_run() -> None:
    runs = _runs(2, "running")
    tis = _tis(runs[:1], _EVERY_STATE) + _tis(runs[1:], {"load": "running"})
    plan = plan_run_state(_dag(), runs[0], tis, "failed")
    assert {c.task_id: c.to_state for c in plan.changes} == {
        "transform": "failed",
        "load": "skipped",
        "report": "skipped",
        "notify": "skipped",
    }
    assert {c.run_id for c in plan.changes} == {"run_0"}
    assert plan.reopen_run_ids == []


def test_marking_a_run_success_leaves_task_instances_of_tasks_no_longer_in_the_dag() -> None:
    run = RunRef("run_0", T0, "failed")
    tis = [TIRef("run_0", "load", -1, "failed", 1), TIRef("run_0", "gone", -1, "removed", 1)]
    plan = plan_run_state(_dag(), run, tis, "success")
    assert [(c.task_id, c.to_state) for c in plan.changes] == [("load", "success")]


def test_a_run_state_a_person_may_not_set_is_refused() -> None:
    with pytest.raises(ValueError, match="not 'running'"):
        plan_run_state(_dag(), RunRef("run_0", T0, "failed"), [], "running")
