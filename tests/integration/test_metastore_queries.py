"""The metastore's query functions, as the scheduler, workers and web UI use them — on both backends."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from tradewind import DAG, BashOperator
from tradewind.errors import DagNotFound, DagRunAlreadyExists, DagRunNotFound
from tradewind.metastore import (
    audit,
    dag_files,
    dags,
    import_errors,
    logs,
    pools,
    runs,
    task_instances,
    xcoms,
)
from tradewind.metastore.engine import dispose_after_fork, session_scope
from tradewind.metastore.models import AuditLog, DagRun, TaskInstance, TaskLog, TaskTry, XCom
from tradewind.metastore.task_instances import TIKey
from tradewind.scheduling.failed_tries import fail_try
from tradewind.sdk.serialization import serialize_dag
from tradewind.settings import Settings
from tradewind.states import DagRunState, TaskInstanceState
from tradewind.worker.follow_up import FollowUp
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import PushedXCom, Reporter, Standing
from tradewind.worker.runner import RunnerOptions
from tradewind.worker.task_facts import TaskFacts

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, tzinfo=UTC)
TASKS = [
    {"task_id": "extract", "operator": "PythonOperator", "max_tries": 2},
    {"task_id": "load", "operator": "BashOperator", "pool": "db", "pool_slots": 2, "priority_weight": 5},
]


def _create_run(
    session: Session, run_id: str = "manual__1", logical_date: datetime = T0, task_rows: list[dict] | None = None
) -> DagRun:
    return runs.create_run(
        session,
        dag_id="etl",
        run_id=run_id,
        run_type="manual",
        logical_date=logical_date,
        data_interval=(logical_date, logical_date + timedelta(days=1)),
        conf={"full": True},
        state=DagRunState.QUEUED,
        external_trigger=True,
        task_rows=TASKS if task_rows is None else task_rows,
    )


@pytest.fixture
def run_id(session_factory: sessionmaker[Session]) -> str:
    with session_scope(session_factory) as session:
        return _create_run(session).run_id


def _queue_first_try(session_factory: sessionmaker[Session], key: TIKey) -> None:
    with session_scope(session_factory) as session:
        assert task_instances.transition(session, key, expected_state="none", target_state="scheduled")
        assert task_instances.transition(
            session, key, expected_state="scheduled", target_state="queued", try_number=1, queued_dttm=T0
        )


# --- runs -----------------------------------------------------------------------------------------


def test_a_new_run_has_one_task_instance_per_task_all_in_state_none(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        run = _create_run(session)
        assert run.id is not None

    with session_scope(session_factory) as session:
        run = runs.get_run(session, "etl", "manual__1")
        tis = task_instances.get_tis(session, "etl", "manual__1")

    assert (run.state, run.run_type, run.conf) == ("queued", "manual", {"full": True})
    assert run.external_trigger is True
    assert run.logical_date == T0 and run.data_interval_end == T0 + timedelta(days=1)
    assert run.queued_at is not None and run.start_date is None
    assert [(ti.task_id, ti.map_index, ti.state, ti.try_number) for ti in tis] == [
        ("extract", -1, "none", 0),
        ("load", -1, "none", 0),
    ]
    load = tis[1]
    assert (load.pool, load.pool_slots, load.priority_weight, load.operator) == ("db", 2, 5, "BashOperator")
    assert tis[0].pool == pools.DEFAULT_POOL and tis[0].max_tries == 2


def test_a_run_of_five_hundred_tasks_is_written_as_rows_without_an_orm_object_apiece(
    session_factory: sessionmaker[Session],
) -> None:
    wide = [{"task_id": f"shard_{i:03d}", "operator": "PythonOperator", "queue": "default"} for i in range(500)]

    tracked: list[object] = []
    with session_scope(session_factory) as session:
        sa.event.listen(session, "transient_to_pending", lambda _, instance: tracked.append(instance))
        _create_run(session, task_rows=wide)
    # What the trigger, the scheduler and a backfill pay for a wide DAG: rows, not 500 objects for
    # the session to track and flush (the run itself is one).
    assert [type(instance) for instance in tracked] == [DagRun]

    with session_scope(session_factory) as session:
        tis = task_instances.get_tis(session, "etl", "manual__1")
    assert len(tis) == 500 and {(ti.state, ti.try_number, ti.pool) for ti in tis} == {("none", 0, pools.DEFAULT_POOL)}
    assert (tis[-1].task_id, tis[-1].queue, tis[-1].operator) == ("shard_499", "default", "PythonOperator")


def test_a_duplicate_run_id_is_refused_and_nothing_is_half_written(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    with session_scope(session_factory) as session, pytest.raises(DagRunAlreadyExists) as raised:
        _create_run(
            session,
            run_id=run_id,
            logical_date=T0 + timedelta(days=7),
            task_rows=[{"task_id": "extract"}, {"task_id": "brand_new"}],
        )
    assert "'etl'" in str(raised.value) and "'manual__1'" in str(raised.value)

    with session_scope(session_factory) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DagRun)) == 1
        assert [ti.task_id for ti in task_instances.get_tis(session, "etl", run_id)] == ["extract", "load"]


def test_a_second_run_for_the_same_logical_date_is_refused_naming_the_date(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    with session_scope(session_factory) as session, pytest.raises(DagRunAlreadyExists, match="2024-03-01"):
        _create_run(session, run_id="scheduled__other")

    with session_scope(session_factory) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(TaskInstance)) == 2


def test_a_run_inserted_by_someone_else_between_check_and_flush_leaves_nothing_behind(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(session_factory) as session:
        _create_run(session)
    # Simulate the race: the pre-check sees nothing, the unique constraint catches the duplicate.
    monkeypatch.setattr(runs, "_refuse_existing", lambda *args: None)

    session = session_factory()
    try:
        with pytest.raises(DagRunAlreadyExists):
            _create_run(session, task_rows=[{"task_id": "other"}])
        session.rollback()
        assert session.scalar(sa.select(sa.func.count()).select_from(TaskInstance)) == 2
    finally:
        session.close()


def test_find_run_looks_up_by_run_id_first_then_by_logical_date(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    with session_scope(session_factory) as session:
        _create_run(session, run_id="later", logical_date=T0 + timedelta(days=1), task_rows=[])
        assert runs.find_run(session, "etl", run_id="later", logical_date=T0).run_id == "later"
        assert runs.find_run(session, "etl", run_id="nope", logical_date=T0).run_id == run_id
        assert runs.find_run(session, "etl", logical_date=T0 + timedelta(days=9)) is None
        assert runs.find_run(session, "other", run_id=run_id) is None


@pytest.mark.parametrize(
    "bad_rows",
    [
        [{"task_id": "a"}, {"task_id": "a"}],
        [{"task_id": "a"}, {"task_id": "b", "retries": 3}],
    ],
)
def test_bad_task_rows_are_refused_before_anything_enters_the_session(
    session_factory: sessionmaker[Session], bad_rows: list[dict]
) -> None:
    with session_scope(session_factory) as session:
        with pytest.raises(ValueError):
            _create_run(session, task_rows=bad_rows)
        assert not session.new
        _create_run(session, run_id="good", task_rows=[{"task_id": "a"}])

    with session_scope(session_factory) as session:
        assert [r.run_id for r in runs.list_runs(session, "etl")] == ["good"]


def test_get_run_of_an_unknown_run_raises(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session, pytest.raises(DagRunNotFound, match="'etl'.*'nope'"):
        runs.get_run(session, "etl", "nope")


def test_runs_are_listed_newest_first_filtered_by_state(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        for day in range(3):
            _create_run(session, run_id=f"r{day}", logical_date=T0 + timedelta(days=day), task_rows=[])
        runs.set_run_state(session, runs.get_run(session, "etl", "r1"), DagRunState.RUNNING)

    with session_scope(session_factory) as session:
        assert [r.run_id for r in runs.list_runs(session, "etl")] == ["r2", "r1", "r0"]
        assert [r.run_id for r in runs.list_runs(session, "etl", newest_first=False, limit=2)] == ["r0", "r1"]
        assert [r.run_id for r in runs.list_runs(session, "etl", states=["running"])] == ["r1"]
        assert runs.latest_run(session, "etl").run_id == "r2"
        assert runs.latest_run(session, "other") is None


def test_run_state_changes_set_dates_and_lose_to_a_concurrent_change(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    with session_scope(session_factory) as session:
        run = runs.get_run(session, "etl", run_id)
        assert runs.set_run_state(session, run, DagRunState.RUNNING, now=T0)
        assert (run.state, run.start_date, run.end_date) == ("running", T0, None)

    stale = session_factory()
    stale_run = runs.get_run(stale, "etl", run_id)
    with session_scope(session_factory) as session:
        fresh = runs.get_run(session, "etl", run_id)
        assert runs.set_run_state(session, fresh, "success", now=T0 + timedelta(days=1))
    try:
        # Read as running, but it is success now: the compare-and-set refuses and shows the truth.
        assert not runs.set_run_state(stale, stale_run, DagRunState.FAILED)
        assert stale_run.state == "success" and stale_run.end_date == T0 + timedelta(days=1)
        with pytest.raises(ValueError, match="success to success"):
            runs.set_run_state(stale, stale_run, DagRunState.SUCCESS)
    finally:
        stale.close()


# --- task instances ---------------------------------------------------------------------------------


def test_two_workers_racing_to_claim_the_same_try_only_one_wins(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    barrier = threading.Barrier(2)
    won: dict[str, bool] = {}

    def claim(worker: str) -> None:
        with session_scope(session_factory) as session:
            barrier.wait()
            won[worker] = task_instances.transition(
                session,
                key,
                expected_state="queued",
                target_state="running",
                expected_try=1,
                hostname=worker,
                start_date=T0,
            )

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(won.values()) == [False, True]
    winner = next(name for name, ok in won.items() if ok)
    with session_scope(session_factory) as session:
        ti = task_instances.get_ti(session, "etl", run_id, "extract")
        assert (ti.state, ti.hostname, ti.try_number) == ("running", winner, 1)


def test_a_stale_worker_with_an_old_try_cannot_overwrite_the_retry(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    with session_scope(session_factory) as session:
        # Try 1 was declared a zombie and retried; try 2 is running on another worker.
        assert task_instances.transition(session, key, expected_state="queued", target_state="running", expected_try=1)
        assert task_instances.transition(session, key, expected_state="running", target_state="up_for_retry")
        assert task_instances.transition(
            session, key, expected_state="up_for_retry", target_state="queued", try_number=2
        )
        assert task_instances.transition(
            session, key, expected_state="queued", target_state="running", expected_try=2, hostname="new-worker"
        )

    with session_scope(session_factory) as session:
        assert not task_instances.transition(
            session, key, expected_state="running", target_state="success", expected_try=1, hostname="old-worker"
        )
        ti = task_instances.get_ti(session, "etl", run_id, "extract")
        assert (ti.state, ti.try_number, ti.hostname) == ("running", 2, "new-worker")


def test_a_failed_try_says_why_in_its_log_and_history_and_a_try_that_moved_on_is_left_alone(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    now = T0 + timedelta(minutes=5)
    with session_scope(session_factory) as session:
        assert task_instances.transition(session, key, expected_state="queued", target_state="running", expected_try=1)
        task_instances.record_try(session, task_instances.get_ti(session, *_args(key)))
        assert not fail_try(session, key, 2, "not this try", now, expected_state=TaskInstanceState.RUNNING)
        assert fail_try(
            session,
            key,
            1,
            "the worker is gone",
            now,
            expected_state=TaskInstanceState.RUNNING,
            state=TaskInstanceState.UP_FOR_RETRY,
            retry_at=now + timedelta(minutes=1),
        )

    with session_scope(session_factory) as session:
        ti = task_instances.get_ti(session, *_args(key))
        (tried,) = task_instances.list_tries(session, key)
        text, _ = logs.read_log(session, key, 1)
    assert (ti.state, ti.end_date, ti.retry_at) == ("up_for_retry", now, now + timedelta(minutes=1))
    assert (tried.state, tried.error) == ("up_for_retry", "the worker is gone")
    assert text == (
        f"[{now.isoformat()}] ERROR - the worker is gone\n[{now.isoformat()}] INFO - Marking task as UP_FOR_RETRY.\n"
    )


def test_a_transition_the_state_machine_forbids_raises_before_writing(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    key = TIKey("etl", run_id, "extract")
    with session_scope(session_factory) as session:
        with pytest.raises(ValueError, match="none to running"):
            task_instances.transition(session, key, expected_state="none", target_state="running")
        with pytest.raises(TypeError, match="task_id"):
            task_instances.transition(session, key, expected_state="none", target_state="scheduled", task_id="renamed")
        assert task_instances.get_ti(session, "etl", run_id, "extract").state == "none"


def test_a_person_may_mark_a_task_from_any_state(session_factory: sessionmaker[Session], run_id: str) -> None:
    key = TIKey("etl", run_id, "load")
    with session_scope(session_factory) as session:
        with pytest.raises(ValueError, match="manual=True"):
            task_instances.transition(session, key, expected_state="none", target_state="success")
        assert task_instances.transition(session, key, expected_state="none", target_state="success", manual=True)
        assert task_instances.get_ti(session, "etl", run_id, "load").state == TaskInstanceState.SUCCESS


def test_transition_many_moves_a_batch_and_skips_rows_not_in_the_expected_state(
    session_factory: sessionmaker[Session],
) -> None:
    rows = [{"task_id": "a"}, {"task_id": "b"}, {"task_id": "c"}] + [
        {"task_id": "mapped", "map_index": i} for i in range(3)
    ]
    with session_scope(session_factory) as session:
        _create_run(session, task_rows=rows)
        loaded = task_instances.get_ti(session, "etl", "manual__1", "a")
        task_instances.transition(
            session, TIKey("etl", "manual__1", "c"), expected_state="none", target_state="removed"
        )
        changed = task_instances.transition_many(
            session,
            "etl",
            "manual__1",
            [
                ("a", -1, "none", "scheduled", {}),
                ("b", -1, "none", "scheduled", {}),
                ("c", -1, "none", "scheduled", {}),  # already removed: not changed
                ("mapped", 0, "none", "scheduled", {"priority_weight": 9}),
                ("mapped", 2, "none", "upstream_failed", {"rendered_fields": {"x": [1]}}),
            ],
        )
        assert changed == 4
        assert loaded.state == "scheduled", "a copy loaded before the batch is not left stale"

    with session_scope(session_factory) as session:
        states = {
            (ti.task_id, ti.map_index): (ti.state, ti.priority_weight)
            for ti in task_instances.get_tis(session, "etl", "manual__1")
        }
    assert states == {
        ("a", -1): ("scheduled", 1),
        ("b", -1): ("scheduled", 1),
        ("c", -1): ("removed", 1),
        ("mapped", 0): ("scheduled", 9),
        ("mapped", 1): ("none", 1),
        ("mapped", 2): ("upstream_failed", 1),
    }


def test_a_fan_in_learns_whether_its_upstream_tasks_all_succeeded_from_their_states(
    session_factory: sessionmaker[Session],
) -> None:
    """What a worker's follow-up asks for a fan-in of hundreds after each of its upstream tries."""
    upstream = [f"middle_{i:03d}" for i in range(250)]
    rows = [{"task_id": t} for t in upstream] + [{"task_id": "last"}, {"task_id": "mapped", "map_index": 0}]
    with session_scope(session_factory) as session:
        _create_run(session, task_rows=rows)
        task_instances.transition_many(
            session, "etl", "manual__1", [(t, -1, "none", "success", {}) for t in upstream[:-1]], manual=True
        )
    with session_scope(session_factory) as session:
        assert task_instances.one_not_in_state(session, "etl", "manual__1", upstream, "success") == upstream[-1]
        assert task_instances.one_not_in_state(session, "etl", "manual__1", upstream[:-1], "success") is None
        assert task_instances.one_not_in_state(session, "etl", "manual__1", [], "success") is None
        states = task_instances.states_of(session, "etl", "manual__1", [upstream[0], upstream[-1], "mapped", "gone"])
    assert states == {upstream[0]: ["success"], upstream[-1]: ["none"], "mapped": ["none"]}


def test_transition_many_checks_every_change_before_writing_any(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    with session_scope(session_factory) as session:
        with pytest.raises(ValueError):
            task_instances.transition_many(
                session,
                "etl",
                run_id,
                [
                    ("extract", -1, "none", "scheduled", {}),
                    ("load", -1, "none", "running", {}),
                ],
            )
        assert {ti.state for ti in task_instances.get_tis(session, "etl", run_id)} == {"none"}


def test_each_try_keeps_its_own_history_and_rendered_fields(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    with session_scope(session_factory) as session:
        task_instances.transition(
            session,
            key,
            expected_state="queued",
            target_state="running",
            expected_try=1,
            hostname="w1",
            pid=11,
            start_date=T0,
        )
        task_instances.set_rendered_fields(session, key, 1, {"bash_command": "echo 1"})
        task_instances.transition(
            session,
            key,
            expected_state="running",
            target_state="up_for_retry",
            expected_try=1,
            end_date=T0 + timedelta(seconds=3),
            duration=3.0,
        )
        task_instances.record_try(session, task_instances.get_ti(session, *_args(key)), error="boom")
        task_instances.transition(session, key, expected_state="up_for_retry", target_state="queued", try_number=2)
        task_instances.transition(
            session, key, expected_state="queued", target_state="running", expected_try=2, hostname="w2"
        )
        task_instances.set_rendered_fields(session, key, 2, {"bash_command": "echo 2"})
        task_instances.set_rendered_fields(session, key, 1, {"bash_command": "late write from try 1"})
        task_instances.record_try(session, task_instances.get_ti(session, *_args(key)))

    with session_scope(session_factory) as session:
        tries = task_instances.list_tries(session, key)
        ti = task_instances.get_ti(session, *_args(key))
    assert [(t.try_number, t.state, t.hostname, t.error) for t in tries] == [
        (1, "up_for_retry", "w1", "boom"),
        (2, "running", "w2", None),
    ]
    assert tries[0].rendered_fields == {"bash_command": "late write from try 1"}
    assert tries[0].duration == 3.0 and tries[0].start_date == T0
    assert ti.rendered_fields == {"bash_command": "echo 2"}, "an old try cannot overwrite the current one"


def _args(key: TIKey) -> tuple[str, str, str, int]:
    return key.dag_id, key.run_id, key.task_id, key.map_index


def test_deleting_a_run_deletes_its_task_instances_tries_xcoms_and_logs(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    with session_scope(session_factory) as session:
        task_instances.record_try(session, task_instances.get_ti(session, *_args(key)))
        xcoms.set_xcom(session, key, "return_value", 1)
        logs.append_log(session, key, 1, "hello\n")
    with session_scope(session_factory) as session:
        runs.delete_run(session, runs.get_run(session, "etl", run_id))

    with session_scope(session_factory) as session:
        for model in (TaskInstance, TaskTry, XCom, TaskLog):
            assert session.scalar(sa.select(sa.func.count()).select_from(model)) == 0, model.__tablename__


# --- xcom, logs ---------------------------------------------------------------------------------------


def test_xcom_is_upserted_read_by_task_and_cleared_per_task_instance(
    session_factory: sessionmaker[Session],
) -> None:
    fan = [{"task_id": "fan", "map_index": i} for i in (1, 0)]
    rows = [{"task_id": "extract"}, {"task_id": "load"}, *fan]
    with session_scope(session_factory) as session:
        _create_run(session, task_rows=rows)
        extract = TIKey("etl", "manual__1", "extract")
        xcoms.set_xcom(session, extract, "return_value", {"rows": 1})
        xcoms.set_xcom(session, extract, "return_value", {"rows": 2, "names": ["a", "é"]})
        xcoms.set_xcom(session, extract, "count", 7)
        xcoms.set_xcom(session, TIKey("etl", "manual__1", "load"), "return_value", None)
        for i, value in ((1, "one"), (0, "zero")):
            xcoms.set_xcom(session, TIKey("etl", "manual__1", "fan", i), "return_value", value)

    with session_scope(session_factory) as session:
        assert xcoms.get_xcom(session, "etl", "manual__1", "extract", "return_value") == {
            "rows": 2,
            "names": ["a", "é"],
        }
        assert xcoms.get_xcom(session, "etl", "manual__1", "extract", "count") == 7
        assert xcoms.get_xcom(session, "etl", "manual__1", "load", "return_value", default="x") is None
        assert xcoms.get_xcom(session, "etl", "manual__1", "load", "missing", default="x") == "x"
        assert xcoms.find_xcom(session, "etl", "manual__1", "load", "return_value") == (True, None)
        assert xcoms.find_xcom(session, "etl", "manual__1", "load", "missing") == (False, None)
        assert xcoms.get_xcom(session, "etl", "manual__1", "fan", "return_value", map_index=1) == "one"
        assert xcoms.get_xcoms_for_tasks(session, "etl", "manual__1", ["extract", "fan", "nobody"], "return_value") == {
            "extract": {"rows": 2, "names": ["a", "é"]},
            "fan": ["zero", "one"],
        }
        assert xcoms.clear_xcoms(session, TIKey("etl", "manual__1", "extract")) == 2

    with session_scope(session_factory) as session:
        assert [(x.task_id, x.map_index, x.key) for x in xcoms.list_xcoms(session, "etl", "manual__1")] == [
            ("fan", 0, "return_value"),
            ("fan", 1, "return_value"),
            ("load", -1, "return_value"),
        ]
        fan_values = [x.value for x in xcoms.list_xcoms(session, "etl", "manual__1", task_id="fan")]
        assert fan_values == ["zero", "one"]


def test_a_log_is_appended_in_chunks_and_read_from_after_the_last_seq_seen(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    key = TIKey("etl", run_id, "extract")
    with session_scope(session_factory) as session:
        assert logs.append_log(session, key, 1, "line 1\n") == 0
        assert logs.append_log(session, key, 1, "line 2\n") == 1
        assert logs.append_log(session, key, 2, "try 2\n") == 0

    with session_scope(session_factory) as session:
        assert logs.read_log(session, key, 1) == ("line 1\nline 2\n", 1)
        assert logs.read_log(session, key, 1, after_seq=0) == ("line 2\n", 1)
        assert logs.read_log(session, key, 1, after_seq=1) == ("", 1)
        assert logs.read_log(session, key, 2) == ("try 2\n", 0)
        assert logs.read_log(session, key, 3) == ("", -1)


# --- pools, audit, dags, import errors ---------------------------------------------------------------


def test_the_default_pool_exists_and_cannot_be_deleted(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        assert pools.get_pool(session, "default_pool").slots == 128
        with pytest.raises(ValueError, match="default_pool cannot be deleted"):
            pools.delete_pool(session, "default_pool")
        pools.set_pool(session, "db", 4, "the warehouse")
        pools.set_pool(session, "db", 2)
        with pytest.raises(ValueError, match="slots"):
            pools.set_pool(session, "db", -1)

    with session_scope(session_factory) as session:
        assert [(p.pool, p.slots, p.description) for p in pools.list_pools(session)] == [
            ("db", 2, "the warehouse"),
            ("default_pool", 128, "Default pool"),
        ]
        assert pools.ensure_default_pool(session, 5).slots == 128, "an existing pool keeps its slots"
        assert pools.delete_pool(session, "db") is True
        assert pools.delete_pool(session, "db") is False
        assert [p.pool for p in pools.list_pools(session)] == ["default_pool"]


def test_audit_events_are_recorded_and_listed_newest_first(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        audit.record(session, "trigger", owner="alice", dag_id="etl", run_id="manual__1", extra={"conf": {}}, now=T0)
        audit.record(session, "pause", owner="cli", dag_id="etl", now=T0 + timedelta(minutes=1))
        audit.record(
            session, "clear", owner="bob", dag_id="other", task_id="t", map_index=3, now=T0 + timedelta(minutes=2)
        )

    with session_scope(session_factory) as session:
        assert [(e.event, e.owner) for e in audit.list_events(session)] == [
            ("clear", "bob"),
            ("pause", "cli"),
            ("trigger", "alice"),
        ]
        etl = audit.list_events(session, dag_id="etl", limit=1)
        assert [(e.event, e.dttm) for e in etl] == [("pause", T0 + timedelta(minutes=1))]
        assert session.scalar(sa.select(AuditLog.extra).where(AuditLog.event == "trigger")) == {"conf": {}}


def _upsert_etl(
    session: Session,
    *,
    paused_upon_creation: bool,
    fileloc: str = "/dags/etl.py",
    dag_id: str = "etl",
    tags: list[str] | None = None,
) -> None:
    dags.upsert_dag(
        session,
        dag_id,
        fileloc,
        {"dag_id": dag_id, "tasks": []},
        "h1",
        "0 3 * * *",
        "nightly",
        tags or ["finance"],
        "data-team",
        1,
        16,
        paused_upon_creation,
    )


def test_a_reparsed_dag_keeps_the_paused_flag_a_person_set(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        _upsert_etl(session, paused_upon_creation=True)
        dags.set_paused(session, "etl", False)
        _upsert_etl(session, paused_upon_creation=True)
        with pytest.raises(DagNotFound):
            dags.set_paused(session, "nope", True)

    with session_scope(session_factory) as session:
        dag = dags.get_dag(session, "etl")
        assert (dag.is_paused, dag.is_active, dag.schedule_description, dag.tags) == (
            False,
            True,
            "0 3 * * *",
            ["finance"],
        )
        assert dag.last_parsed.tzinfo is not None
        assert dags.get_serialized(session, "etl") == {"dag_id": "etl", "tasks": []}
        assert dags.get_serialized(session, "nope") is None


def test_load_dag_reads_an_active_dag_and_refuses_an_unknown_retired_or_unreadable_one(
    session_factory: sessionmaker[Session],
) -> None:
    with DAG("readable", schedule=None, start_date=T0) as live:
        BashOperator(task_id="t", bash_command="true")
    with session_scope(session_factory) as session:
        _upsert_etl(session, paused_upon_creation=False)
        dags.upsert_dag(
            session, "readable", "/dags/readable.py", serialize_dag(live), "h1", None, None, None, None, 1, 16, False
        )

    with session_scope(session_factory) as session:
        assert list(dags.load_dag(session, "readable").task_dict) == ["t"]
        with pytest.raises(DagNotFound, match="'nope' not found"):
            dags.load_dag(session, "nope")
        with pytest.raises(DagNotFound, match="'etl' has not been parsed into a form"):
            dags.load_dag(session, "etl")
        dags.deactivate(session, "readable")
        with pytest.raises(DagNotFound, match="'readable' not found"):
            dags.load_dag(session, "readable")


def test_dags_whose_file_vanished_are_deactivated_and_listed_only_on_request(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        _upsert_etl(session, paused_upon_creation=False)
        _upsert_etl(session, paused_upon_creation=False, dag_id="gone", fileloc="/dags/gone.py", tags=["ops"])
        assert dags.deactivate_missing(session, ["/dags/etl.py"]) == 1

    with session_scope(session_factory) as session:
        assert [d.dag_id for d in dags.list_dags(session)] == ["etl"]
        assert [d.dag_id for d in dags.list_dags(session, include_inactive=True)] == ["etl", "gone"]
        assert [d.dag_id for d in dags.list_dags(session, include_inactive=True, tags=["ops"])] == ["gone"]
        _upsert_etl(session, paused_upon_creation=False, dag_id="gone", fileloc="/dags/gone.py")
        assert dags.get_dag(session, "gone").is_active
        assert dags.deactivate(session, "gone") is True
        assert dags.deactivate(session, "gone") is False
        assert [d.dag_id for d in dags.list_dags(session)] == ["etl"]


def test_dag_files_remember_hashes_and_the_dag_ids_of_the_last_good_import(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        dag_files.record_file(session, "/dags/a.py", "h1", dag_ids=["b_dag", "a_dag"])
        dag_files.record_file(session, "/dags/gone.py", "h9", dag_ids=[])
        dag_files.record_file(session, "/dags/a.py", "h2", dag_ids=None)  # broken now: ids kept

    with session_scope(session_factory) as session:
        assert dag_files.get_hashes(session) == {"/dags/a.py": "h2", "/dags/gone.py": "h9"}
        assert dag_files.dag_ids_of(session, "/dags/a.py") == ["a_dag", "b_dag"]
        assert dag_files.dag_ids_of(session, "/dags/unknown.py") == []
        assert dag_files.forget_missing(session, ["/dags/a.py"]) == ["/dags/gone.py"]
        assert list(dag_files.get_hashes(session)) == ["/dags/a.py"]


def test_an_import_error_is_replaced_on_reparse_and_cleared_when_the_file_imports(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        _upsert_etl(session, paused_upon_creation=False)
        import_errors.record_import_error(session, "/dags/etl.py", "SyntaxError: one")
        import_errors.record_import_error(session, "/dags/etl.py", "SyntaxError: two")
        import_errors.record_import_error(session, "/dags/other.py", "NameError")

    with session_scope(session_factory) as session:
        assert [(e.filename, e.stacktrace) for e in import_errors.list_import_errors(session)] == [
            ("/dags/etl.py", "SyntaxError: two"),
            ("/dags/other.py", "NameError"),
        ]
        assert dags.get_dag(session, "etl").has_import_errors
        assert import_errors.clear_import_error(session, "/dags/etl.py") is True
        assert import_errors.clear_import_error(session, "/dags/etl.py") is False
        assert not dags.get_dag(session, "etl").has_import_errors
        assert [e.filename for e in import_errors.list_import_errors(session)] == ["/dags/other.py"]


# --- column types ------------------------------------------------------------------------------------


def test_timestamps_come_back_timezone_aware_in_utc(session_factory: sessionmaker[Session], run_id: str) -> None:
    paris_summer = datetime(2024, 7, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    with session_scope(session_factory) as session:
        task_instances.transition(
            session,
            TIKey("etl", run_id, "extract"),
            expected_state="none",
            target_state="scheduled",
            next_poke_at=paris_summer,
        )

    with session_scope(session_factory) as session:
        value = task_instances.get_ti(session, "etl", run_id, "extract").next_poke_at
        raw = session.scalar(sa.text("SELECT next_poke_at FROM task_instance WHERE task_id = 'extract'"))
    assert value == paris_summer
    assert value.utcoffset() == timedelta(0) and value.hour == 12
    if session_factory.kw["bind"].dialect.name == "sqlite":
        assert str(raw).startswith("2024-07-01 12:30:00"), "SQLite stores the UTC wall time"


def test_a_naive_timestamp_is_refused(session_factory: sessionmaker[Session], run_id: str) -> None:
    with session_scope(session_factory) as session, pytest.raises(sa.exc.StatementError, match="naive"):
        task_instances.transition(
            session,
            TIKey("etl", run_id, "extract"),
            expected_state="none",
            target_state="scheduled",
            next_poke_at=datetime(2024, 1, 1),
        )


# --- engine --------------------------------------------------------------------------------------------


def test_a_forked_child_gets_its_own_connections_and_leaves_the_parents_intact(
    session_factory: sessionmaker[Session],
) -> None:
    engine = session_factory.kw["bind"]
    with session_scope(session_factory) as session:
        pools.set_pool(session, "before_fork", 1)  # the parent's pool now holds a live connection

    pid = os.fork()
    if pid == 0:  # the child: what a worker does before running a task
        code = 1
        try:
            dispose_after_fork(engine)
            with session_scope(session_factory) as session:
                pools.set_pool(session, "from_child", 2)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    with session_scope(session_factory) as session:
        assert pools.get_pool(session, "from_child").slots == 2


# --- the live try -----------------------------------------------------------------------------------


def _requeue(session_factory: sessionmaker[Session], key: TIKey, from_state: str, try_number: int) -> None:
    """A person clears the task instance and the scheduler queues its next try."""
    with session_scope(session_factory) as session:
        assert task_instances.transition(session, key, expected_state=from_state, target_state="none", manual=True)
        assert task_instances.transition(session, key, expected_state="none", target_state="scheduled")
        assert task_instances.transition(
            session,
            key,
            expected_state="scheduled",
            target_state="queued",
            try_number=try_number,
            queued_dttm=datetime.now(UTC),
        )


def _is_postgres(session_factory: sessionmaker[Session]) -> bool:
    return session_factory.kw["bind"].dialect.name == "postgresql"


@contextmanager
def _statements_counted(session_factory: sessionmaker[Session]) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (the driver's; a pool's liveness ping is not one)."""
    statements: list[str] = []
    engine = session_factory.kw["bind"]

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split("(")[0][:60])

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_no_try_is_claimed_while_an_earlier_try_may_still_have_processes_alive(
    session_factory: sessionmaker[Session],
    run_id: str,
) -> None:
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    first = Reporter(session_factory, key, 1, zombie_threshold=30)
    assert first.claim(hostname="w1", pid=1) is not None
    with session_scope(session_factory) as session:  # marked failed while its worker still runs it
        assert task_instances.transition(session, key, expected_state="running", target_state="failed", manual=True)
    _requeue(session_factory, key, "failed", 2)

    second = Reporter(session_factory, key, 2, zombie_threshold=30)
    assert second.claim(hostname="w2", pid=2) is None
    assert "an earlier try (1) may still have processes alive on w1" in second.why_not_claimed()
    assert first.heartbeat() is Standing.LOST
    # Every process of the first try is gone: its end, refused, releases it.
    assert first.finish(Outcome(TaskInstanceState.FAILED, error="stopped")) == (False, None)
    assert second.claim(hostname="w2", pid=2) is not None


def test_a_fan_in_waits_until_its_last_upstream_task_succeeded_whichever_ends_last(
    session_factory: sessionmaker[Session],
) -> None:
    """After each upstream try of a fan-in, the worker asks whether the downstream task may run:
    first about the upstream task it last found unfinished, then about all of them."""
    with DAG("etl", schedule=None, start_date=T0):
        last = BashOperator(task_id="last", bash_command="true")
        middles = [BashOperator(task_id=f"middle_{i}", bash_command="true") for i in range(4)]
        for middle in middles:
            middle >> last
    with session_scope(session_factory) as session:
        _create_run(session, task_rows=[{"task_id": t.task_id} for t in [*middles, last]])
    follow_up = FollowUp(session_factory, Settings(), ["default"], lambda items: None, RunnerOptions())
    # They end in this order; only after the fourth may ``last`` run.
    for done, middle in enumerate([middles[2], middles[0], middles[3], middles[1]], start=1):
        with session_scope(session_factory) as session:
            assert task_instances.transition(
                session,
                TIKey("etl", "manual__1", middle.task_id),
                expected_state="none",
                target_state="success",
                manual=True,
            )
        with session_scope(session_factory) as session:
            key = TIKey("etl", "manual__1", middle.task_id)
            waits = follow_up._nothing_can_follow(session, key, "success", TaskFacts.of(middle))
        assert waits is (done < 4), f"after {done} of 4 upstream tasks ended"


def test_a_follow_up_remembers_its_run_s_dag_version_only_once_its_transaction_commits(
    session_factory: sessionmaker[Session],
) -> None:
    """A follow-up matches its run's task instances with the DAG's version and remembers it; when its
    transaction is rolled back, so is the matching, and the next follow-up matches again."""
    with DAG("etl", schedule=None, start_date=T0) as dag:
        BashOperator(task_id="extract", bash_command="true") >> BashOperator(task_id="load", bash_command="true")
    with session_scope(session_factory) as session:
        dags.upsert_dag(session, "etl", "/dags/etl.py", serialize_dag(dag), "v1", None, None, [], None, 1, 16, False)
        _create_run(session, task_rows=[{"task_id": "extract"}, {"task_id": "load"}])
    follow_up = FollowUp(session_factory, Settings(), ["default"], lambda items: None, RunnerOptions())
    key = TIKey("etl", "manual__1", "extract")
    session = session_factory()
    try:
        follow_up.plan_in(session, key, Outcome(TaskInstanceState.SUCCESS), None, hostname="w1", pid=1)
        session.rollback()
    finally:
        session.close()
    assert follow_up.checked == {}, "what a rolled-back transaction matched is not remembered"
    with session_scope(session_factory) as session:
        follow_up.plan_in(session, key, Outcome(TaskInstanceState.SUCCESS), None, hostname="w1", pid=1)
    assert follow_up.checked == {("etl", "manual__1"): "v1"}


def test_a_follow_up_that_fails_in_a_tries_final_transaction_costs_only_itself(
    session_factory: sessionmaker[Session],
    run_id: str,
) -> None:
    """The worker plans the run in the transaction that ends the try; when that planning fails
    half-way, none of it is kept, and the try's end, its log and its XCom are written all the same."""
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    reporter = Reporter(session_factory, key, 1, zombie_threshold=30)
    assert reporter.claim(hostname="w1", pid=1) is not None
    reporter.flush(log_text="while it ran\n")

    def broken_follow_up(session: Session, outcome: Outcome) -> None:
        assert task_instances.transition(
            session, TIKey("etl", run_id, "load"), expected_state="none", target_state="scheduled"
        )
        raise RuntimeError("the planner broke half-way")

    pushed = [PushedXCom("return_value", 42)]
    written, followed = reporter.finish(
        Outcome(TaskInstanceState.SUCCESS), log_text="at its end\n", pushed=pushed, then=broken_follow_up
    )
    assert (written, followed) == (True, None)
    with session_scope(session_factory) as session:
        ended = task_instances.get_ti(session, "etl", run_id, "extract")
        assert (ended.state, ended.live_try) == ("success", None)
        assert task_instances.get_ti(session, "etl", run_id, "load").state == "none"  # the follow-up's write is gone
        assert logs.read_log(session, key, 1)[0] == "while it ran\nat its end\n"
        assert xcoms.find_xcom(session, "etl", run_id, "extract") == (True, 42)


def test_a_claimed_try_is_recorded_starts_without_earlier_xcom_and_knows_its_run(
    session_factory: sessionmaker[Session],
    run_id: str,
) -> None:
    """What a worker's claim does in its one transaction (one statement on PostgreSQL): the try is
    running on that worker, its history row exists, an XCom left from before (a cleared task's
    last run) is gone, and the task's process is told the run's logical date, conf and type."""
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    with session_scope(session_factory) as session:
        xcoms.set_xcom(session, key, "return_value", "left from before")
    with _statements_counted(session_factory) as statements:
        claimed = Reporter(session_factory, key, 1, zombie_threshold=30).claim(hostname="w1", pid=41)
    if _is_postgres(session_factory):
        assert len(statements) == 1, statements
    assert claimed is not None
    assert (claimed.run_type, claimed.logical_date, claimed.conf) == ("manual", T0, {"full": True})
    assert (claimed.data_interval_start, claimed.data_interval_end) == (T0, T0 + timedelta(days=1))
    assert claimed.external_trigger and claimed.next_method is None and claimed.max_tries == 2
    with session_scope(session_factory) as session:
        ti = task_instances.get_ti(session, "etl", run_id, "extract")
        assert (ti.state, ti.hostname, ti.pid, ti.live_try) == ("running", "w1", 41, 1)
        assert claimed.start_date == ti.start_date
        tries = session.scalars(sa.select(TaskTry).where(TaskTry.task_id == "extract")).all()
        assert [(t.try_number, t.state, t.hostname, t.start_date) for t in tries] == [
            (1, "running", "w1", ti.start_date)
        ]
        assert xcoms.find_xcom(session, "etl", run_id, "extract") == (False, None)
    # A second claim of the same try (a duplicate message) finds nothing, and writes nothing.
    assert Reporter(session_factory, key, 1, zombie_threshold=30).claim(hostname="w2", pid=42) is None
    with session_scope(session_factory) as session:
        assert task_instances.get_ti(session, "etl", run_id, "extract").hostname == "w1"
        (tried,) = session.scalars(sa.select(TaskTry)).all()
        assert (tried.hostname, tried.pid) == ("w1", 41)


def test_a_tries_end_writes_its_state_the_rest_of_its_log_and_its_history_or_when_refused_none_of_them(
    session_factory: sessionmaker[Session],
    run_id: str,
) -> None:
    """The end of a try is one compare-and-set (one statement on PostgreSQL): written, the task
    instance, the try's history row and its log agree; refused (a late second word from the try
    after the task was cleared and its next try claimed), the new try's rows are untouched and the
    old try's last words still reach its own log."""
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    reporter = Reporter(session_factory, key, 1, zombie_threshold=30)
    assert reporter.claim(hostname="w1", pid=1) is not None
    reporter.flush(log_text="first lines\n")
    outcome = Outcome(TaskInstanceState.FAILED, error="ValueError: bad row")
    with _statements_counted(session_factory) as statements:
        assert reporter.finish(outcome, log_text="last lines\n", rendered={"sql": "SELECT 1"}) == (True, None)
    if _is_postgres(session_factory):
        assert len(statements) == 1, statements
    with session_scope(session_factory) as session:
        ti = task_instances.get_ti(session, "etl", run_id, "extract")
        assert (ti.state, ti.live_try, ti.rendered_fields) == ("failed", None, {"sql": "SELECT 1"})
        (tried,) = session.scalars(sa.select(TaskTry).where(TaskTry.task_id == "extract")).all()
        assert (tried.state, tried.error, tried.end_date, tried.duration) == (
            "failed",
            "ValueError: bad row",
            ti.end_date,
            ti.duration,
        )
        assert logs.read_log(session, key, 1)[0] == "first lines\nlast lines\n"

    _requeue(session_factory, key, "failed", 2)
    second = Reporter(session_factory, key, 2, zombie_threshold=30)
    assert second.claim(hostname="w2", pid=2) is not None
    late = Reporter(session_factory, key, 1, zombie_threshold=30)
    late.started_at = ti.start_date
    assert late.finish(Outcome(TaskInstanceState.SUCCESS), log_text="a late word\n") == (False, None)
    with session_scope(session_factory) as session:
        ti = task_instances.get_ti(session, "etl", run_id, "extract")
        assert (ti.state, ti.try_number, ti.live_try, ti.hostname) == ("running", 2, 2, "w2")
        states = dict(
            session.execute(sa.select(TaskTry.try_number, TaskTry.state).where(TaskTry.task_id == "extract")).all()
        )
        assert states == {1: "failed", 2: "running"}
        assert logs.read_log(session, key, 1)[0] == "first lines\nlast lines\na late word\n"
        assert logs.read_log(session, key, 2)[0] == ""


def test_a_try_whose_worker_went_silent_past_the_zombie_threshold_no_longer_holds_the_task_instance(
    session_factory: sessionmaker[Session],
    run_id: str,
) -> None:
    key = TIKey("etl", run_id, "extract")
    _queue_first_try(session_factory, key)
    assert Reporter(session_factory, key, 1, zombie_threshold=30).claim(hostname="w1", pid=1) is not None
    with session_scope(session_factory) as session:
        assert task_instances.transition(
            session,
            key,
            expected_state="running",
            target_state="up_for_retry",
            last_heartbeat=datetime.now(UTC) - timedelta(seconds=31),
        )
        assert task_instances.transition(session, key, expected_state="up_for_retry", target_state="scheduled")
        assert task_instances.transition(session, key, expected_state="scheduled", target_state="queued", try_number=2)
    assert Reporter(session_factory, key, 2, zombie_threshold=30).claim(hostname="w2", pid=2) is not None
    with session_scope(session_factory) as session:
        assert task_instances.get_ti(session, "etl", run_id, "extract").live_try == 2


def test_an_xcom_pull_without_task_ids_finds_the_latest_push_of_the_key_by_any_task(
    session_factory: sessionmaker[Session], run_id: str
) -> None:
    with session_scope(session_factory) as session:
        xcoms.set_xcom(session, TIKey("etl", run_id, "extract"), "rows", 10, now=T0)
        xcoms.set_xcom(session, TIKey("etl", run_id, "load"), "rows", 12, now=T0 + timedelta(seconds=5))
    with session_scope(session_factory) as session:
        assert xcoms.find_xcom(session, "etl", run_id, None, "rows") == (True, 12)
        assert xcoms.find_xcom(session, "etl", run_id, "extract", "rows") == (True, 10)
        assert xcoms.find_xcom(session, "etl", run_id, None, "missing") == (False, None)
