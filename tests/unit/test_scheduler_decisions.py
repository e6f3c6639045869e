"""The scheduler's pure decisions, table by table: which runs to create, which task instances the
limits admit, what a clear touches, the task graph's walks and effective priority weights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tradewind.actions.clear import RunRef, TIRef, plan_clear, select_runs, select_task_ids
from tradewind.decisions.admission import Candidate, Limits, Usage, admit
from tradewind.decisions.run_schedule import plan_new_runs
from tradewind.decisions.task_graph import relatives
from tradewind.decisions.task_nodes import priority_weights
from tradewind.sdk.schedules import create_timetable

D = [datetime(2024, 3, day, tzinfo=UTC) for day in range(1, 10)]


def daily(
    max_active_runs: int | None = 16, end_date: datetime | None = None, schedule: str = "@daily"
) -> SimpleNamespace:
    return SimpleNamespace(
        timetable=create_timetable(schedule, UTC, start_date=D[0]),
        start_date=D[0],
        end_date=end_date,
        max_active_runs=max_active_runs,
    )


@pytest.mark.parametrize(
    # next_at: the logical date of the next run still to create (not due, or held back)
    ("dag", "catchup", "last", "active", "taken", "now", "created", "next_at"),
    [
        # Five days have ended; three may be active.
        (daily(3), True, None, 0, set(), D[5] + timedelta(hours=6), D[0:3], D[3]),
        # max_active_runs=None means Airflow's default of 16 at once, not none.
        (daily(None), True, None, 0, set(), D[5] + timedelta(hours=6), D[0:5], D[5]),
        # One active already: two more.
        (daily(3), True, None, 1, set(), D[5] + timedelta(hours=6), D[0:2], D[2]),
        # Nothing before an interval has ended.
        (daily(), True, (D[3], D[4]), 0, set(), D[5] - timedelta(seconds=1), [], D[4]),
        # Without catchup only the latest complete interval.
        (daily(), False, None, 0, set(), D[5] + timedelta(hours=6), [D[4]], D[5]),
        # A day that already has a (manual or backfill) run is passed over.
        (daily(), True, (D[0], D[1]), 0, {D[1], D[2]}, D[5] + timedelta(hours=6), [D[3], D[4]], D[5]),
        # end_date: no interval starts after it.
        (daily(end_date=D[2]), True, None, 0, set(), D[8], D[0:3], None),
        # @once: one run at start_date, then none.
        (daily(schedule="@once"), True, None, 0, set(), D[1], [D[0]], None),
        (daily(schedule="@once"), True, (D[0], D[0]), 0, set(), D[1], [], None),
    ],
)
def test_plan_new_runs(dag, catchup, last, active, taken, now, created, next_at):  # type: ignore[no-untyped-def]
    plan = plan_new_runs(dag, catchup=catchup, last_interval=last, active_runs=active, taken=taken, now=now)
    assert [info.logical_date for info in plan.create] == created
    assert all(info.run_after <= now for info in plan.create)
    assert (plan.next_run.logical_date if plan.next_run else None) == next_at


def cand(
    task_id: str, pool: str = "default_pool", slots: int = 1, dag_id: str = "d", per_dag: int | None = None
) -> Candidate:
    return Candidate(
        dag_id=dag_id,
        run_id="r",
        task_id=task_id,
        map_index=-1,
        try_number=1,
        pool=pool,
        pool_slots=slots,
        queue=None,
        max_active_tis_per_dag=per_dag,
    )


def test_admit_respects_parallelism_pools_dag_and_task_limits_and_reports_unknown_pools():
    candidates = [
        cand("big", pool="db", slots=3),  # does not fit db's 2 free slots: passed over
        cand("small", pool="db", slots=2),  # fits
        cand("lost", pool="nope"),  # unknown pool
        cand("x1", dag_id="capped"),
        cand("x2", dag_id="capped"),  # capped DAG allows one more
        cand("t", per_dag=1),
        cand("t2", per_dag=5),
        cand("late"),  # parallelism exhausted by then
    ]
    usage = Usage.from_rows([("capped", "x0", "default_pool", 1, 1), ("d", "t", "default_pool", 1, 1)])
    limits = Limits(parallelism=6, pools={"default_pool": 128, "db": 2}, max_active_tasks={"capped": 2})
    admission = admit(candidates, usage, limits)
    assert [c.task_id for c in admission.queue] == ["small", "x1", "t2", "late"]
    assert [c.task_id for c in admission.unknown_pool] == ["lost"]
    assert usage.total == 6 and usage.pool_slots["db"] == 2
    assert admit([cand("more")], usage, limits).queue == []


def _task(
    task_id: str, up: set[str], down: set[str], retries: int = 0, weight: int = 1, rule: str = "downstream"
) -> SimpleNamespace:
    return SimpleNamespace(
        task_id=task_id,
        upstream_task_ids=up,
        downstream_task_ids=down,
        retries=retries,
        priority_weight=weight,
        weight_rule=rule,
    )


#: extract -> transform -> load, and report alone
DAG = SimpleNamespace(
    dag_id="etl",
    task_dict={
        "extract": _task("extract", set(), {"transform"}, retries=2),
        "transform": _task("transform", {"extract"}, {"load"}),
        "load": _task("load", {"transform"}, set(), retries=1, weight=5),
        "report": _task("report", set(), set(), weight=0, rule="absolute"),
    },
)
DAG.tasks = list(DAG.task_dict.values())


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"extract", "transform", "load", "report"}),
        ({"task_regex": "^trans"}, {"transform"}),
        ({"task_regex": "^trans", "upstream": True}, {"extract", "transform"}),
        ({"task_regex": "^trans", "downstream": True}, {"transform", "load"}),
        ({"task_ids": ["load"], "upstream": True}, {"extract", "transform", "load"}),
        ({"task_regex": "nothing"}, set()),
    ],
)
def test_select_task_ids(kwargs, expected):  # type: ignore[no-untyped-def]
    assert select_task_ids(DAG, **kwargs) == expected


def test_select_task_ids_refuses_a_bad_regex():
    with pytest.raises(ValueError, match="invalid task regex"):
        select_task_ids(DAG, task_regex="(")


RUNS = [RunRef(f"r{i}", D[i], state) for i, state in enumerate(["success", "failed", "running", "queued"])]


def test_select_runs_by_range_and_by_past_and_future_of_one_run():
    assert [r.run_id for r in select_runs(RUNS, start=D[1], end=D[2])] == ["r1", "r2"]
    assert [r.run_id for r in select_runs(RUNS, run_id="r1")] == ["r1"]
    assert [r.run_id for r in select_runs(RUNS, run_id="r1", past=True)] == ["r0", "r1"]
    assert [r.run_id for r in select_runs(RUNS, run_id="r1", future=True)] == ["r1", "r2", "r3"]


def test_plan_clear_gives_new_tries_restarts_running_ones_and_requeues_finished_runs():
    tis = [
        TIRef("r0", "extract", -1, "success", 1),
        TIRef("r0", "load", -1, "failed", 2),
        TIRef("r2", "extract", -1, "running", 3),
        TIRef("r2", "load", -1, "none", 0),
        TIRef("r3", "extract", -1, "upstream_failed", 0),
    ]
    plan = plan_clear(DAG, RUNS, tis, task_ids={"extract", "load"})
    assert [(t.run_id, t.task_id, t.from_state, t.to_state, t.max_tries) for t in plan.targets] == [
        ("r0", "extract", "success", "none", 3),
        ("r0", "load", "failed", "none", 3),
        ("r2", "extract", "running", "restarting", 5),
        ("r3", "extract", "upstream_failed", "none", 2),
    ]
    assert plan.requeue_run_ids == ["r0"]
    only_failed = plan_clear(DAG, RUNS, tis, task_ids={"extract", "load"}, only_failed=True)
    assert [(t.run_id, t.task_id) for t in only_failed.targets] == [("r0", "load"), ("r3", "extract")]


def test_relatives_are_every_task_above_or_below_the_start_and_never_the_start_itself():
    assert relatives(DAG.task_dict, ["load"], "upstream_task_ids") == {"extract", "transform"}
    assert relatives(DAG.task_dict, ["extract"], "downstream_task_ids") == {"transform", "load"}
    assert relatives(DAG.task_dict, ["report"], "downstream_task_ids") == set()


def test_priority_weights_follow_the_weight_rule():
    assert priority_weights(DAG) == {"extract": 1 + 1 + 5, "transform": 1 + 5, "load": 5, "report": 0}
