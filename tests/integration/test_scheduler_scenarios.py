"""The scheduler as an Airflow user knows it, driven tick by tick with a fixed clock, on both backends.

A fake executor stands in for Celery and the workers: it records the messages the scheduler sends
and can "run" a task instance by doing exactly the worker's metastore writes (queued → running →
success / failed / up_for_retry, each a compare-and-set on the try). DAG files are real files,
imported by the scheduler's child processes.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from web_helpers import FAST_HASH, SECRET_KEY, csrf_token, login

from tradewind.actions import apply as actions
from tradewind.actions.plan import ActionOptions
from tradewind.decisions.retries import decide_failure
from tradewind.decisions.task_nodes import task_nodes, task_rows
from tradewind.master.executor.base import QueueItem
from tradewind.master.scheduler.loop import Scheduler
from tradewind.master.webserver.app import create_app
from tradewind.master.webserver.db import dispose
from tradewind.metastore import dags, import_errors, jobs, logs, pools, runs, task_instances, users
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.messages import TaskMessage
from tradewind.sdk.serialization import deserialize_dag
from tradewind.settings import Settings
from tradewind.states import TaskInstanceState as TI
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import Reporter

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 6, 6, 0, tzinfo=UTC)
HEADER = """
from datetime import datetime, timedelta, timezone
from tradewind import DAG, BashOperator, EmptyOperator
START = datetime(2024, 3, 1, tzinfo=timezone.utc)
"""


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class FakeExecutor:
    """Records what is sent; "runs" a task instance with the worker's own compare-and-set writes."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.sent: list[TaskMessage] = []
        self.queues: list[str] = []
        self.broker_down = False

    def send(self, items: Sequence[QueueItem]) -> list[TaskMessage]:
        if self.broker_down:
            return [message for message, _ in items]
        for message, queue in items:
            self.sent.append(message)
            self.queues.append(queue)
        return []

    def close(self) -> None:
        pass

    def sent_tasks(self) -> list[tuple[str, int]]:
        return [(m.task_id, m.try_number) for m in self.sent]

    def claim(self, message: TaskMessage, now: datetime) -> bool:
        with session_scope(self.factory) as session:
            return task_instances.transition(
                session,
                _key(message),
                expected_state=TI.QUEUED,
                target_state=TI.RUNNING,
                expected_try=message.try_number,
                start_date=now,
                hostname="fake-worker",
                pid=4242,
                last_heartbeat=now,
                live_try=message.try_number,
            )

    def finish(self, message: TaskMessage, now: datetime, *, ok: bool = True) -> str:
        """End the running try: success, or failed/up_for_retry by the task's retry rules."""
        with session_scope(self.factory) as session:
            state, retry_at = TI.SUCCESS, None
            if not ok:
                node = task_nodes(deserialize_dag(dags.get_serialized(session, message.dag_id)))[message.task_id]
                row = task_instances.get_ti(session, message.dag_id, message.run_id, message.task_id)
                state, retry_at = decide_failure(node.retry, message.try_number, row.max_tries, now, fail_fast=False)
            assert task_instances.transition(
                session,
                _key(message),
                expected_state=TI.RUNNING,
                target_state=state,
                expected_try=message.try_number,
                end_date=now,
                retry_at=retry_at,
                live_try=None,
            )
            return str(state)

    def run(self, message: TaskMessage, now: datetime, *, ok: bool = True) -> str:
        assert self.claim(message, now), f"{message.describe()} could not be claimed"
        return self.finish(message, now, ok=ok)


def _key(message: TaskMessage) -> TIKey:
    return TIKey(message.dag_id, message.run_id, message.task_id, message.map_index)


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def settings(metastore_settings: Settings, dags_folder: Path) -> Settings:
    return metastore_settings.with_overrides(
        dags_folder=dags_folder, dags_are_paused_at_creation=False, dagbag_import_timeout=5.0
    )


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = create_engine_from_settings(settings)
    yield make_session_factory(engine)
    engine.dispose()


class Harness:
    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.factory = factory
        self.clock = FixedClock(T0)
        self.executor = FakeExecutor(factory)
        self.scheduler = self.make(settings)

    def make(self, settings: Settings) -> Scheduler:
        if getattr(self, "scheduler", None) is not None:
            self.scheduler.close()
        self.scheduler = Scheduler(settings, self.factory, self.executor, clock=self.clock)
        return self.scheduler

    def tick(self, **advance: float) -> float:
        if advance:
            self.clock.advance(**advance)
        return self.scheduler.tick(self.clock.now)

    def settle(self) -> None:
        """Tick (without moving the clock) until the DAG files being imported are stored."""
        self.tick()
        deadline = time.monotonic() + 20
        while self.scheduler.parsing:
            assert time.monotonic() < deadline, "DAG files still importing after 20 s"
            time.sleep(0.01)
            self.tick()

    def new_messages(self, since: int) -> list[TaskMessage]:
        return self.executor.sent[since:]

    def trigger(self, dag_id: str, run_id: str = "manual__1", logical_date: datetime = T0) -> str:
        with session_scope(self.factory) as session:
            dag = deserialize_dag(dags.get_serialized(session, dag_id))
            runs.create_run(
                session,
                dag_id=dag_id,
                run_id=run_id,
                run_type="manual",
                logical_date=logical_date,
                data_interval=(logical_date, logical_date),
                task_rows=task_rows(dag),
                external_trigger=True,
                now=self.clock.now,
            )
        return run_id

    def states(self, dag_id: str, run_id: str = "manual__1") -> dict[str, tuple[str, int]]:
        with session_scope(self.factory) as session:
            return {t.task_id: (t.state, t.try_number) for t in task_instances.get_tis(session, dag_id, run_id)}

    def run_state(self, dag_id: str, run_id: str = "manual__1") -> str:
        with session_scope(self.factory) as session:
            return runs.get_run(session, dag_id, run_id).state

    def run_ids(self, dag_id: str) -> list[str]:
        with session_scope(self.factory) as session:
            return [r.run_id for r in runs.list_runs(session, dag_id, newest_first=False)]

    def claim(self, message: TaskMessage) -> bool:
        """The fake worker starts a try (and keeps it running)."""
        self._ran.add((message.task_id, message.run_id, message.try_number))
        return self.executor.claim(message, self.clock.now)

    def heartbeat(self, message: TaskMessage) -> None:
        """The fake worker's heartbeat for a try whose processes may still be alive."""
        with session_scope(self.factory) as session:
            assert task_instances.heartbeat_try(session, _key(message), message.try_number, now=self.clock.now)

    def run_all_sent(self, *, ok: bool = True) -> int:
        """Run every message sent and not yet run; returns how many."""
        done = 0
        for message in list(self.executor.sent):
            if (message.task_id, message.run_id, message.try_number) in self._ran:
                continue
            self._ran.add((message.task_id, message.run_id, message.try_number))
            self.executor.run(message, self.clock.now, ok=ok)
            done += 1
        return done

    _ran: set[tuple[str, str, int]]

    def close(self) -> None:
        self.scheduler.close()


@pytest.fixture
def harness(settings: Settings, factory: sessionmaker[Session]) -> Iterator[Harness]:
    h = Harness(settings, factory)
    h._ran = set()
    yield h
    h.close()


def write_dag(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def drive_to_end(h: Harness, dag_id: str, run_id: str = "manual__1", steps: int = 20) -> str:
    for _ in range(steps):
        h.tick(seconds=1)
        h.run_all_sent()
        state = h.run_state(dag_id, run_id)
        if state in ("success", "failed"):
            return state
    raise AssertionError(f"run {run_id} of {dag_id} did not end: {h.states(dag_id, run_id)}")


# --- run creation -----------------------------------------------------------------------------------


def test_a_daily_dag_with_catchup_gets_one_run_per_missed_interval_up_to_max_active_runs(
    harness: Harness,
    dags_folder: Path,
):
    write_dag(
        dags_folder,
        "daily",
        """
        with DAG("daily", schedule="@daily", start_date=START, catchup=True, max_active_runs=3):
            BashOperator(task_id="work", bash_command="echo {{ ds }}")
    """,
    )
    harness.settle()
    harness.tick()
    # Five days have ended by 2024-03-06 06:00; three runs may be active at once.
    assert harness.run_ids("daily") == [f"scheduled__2024-03-0{d}T00:00:00+00:00" for d in (1, 2, 3)]
    assert sorted(m.run_id for m in harness.executor.sent) == harness.run_ids("daily")

    harness.run_all_sent()
    for _ in range(3):
        harness.tick(seconds=1)
        harness.run_all_sent()
    # The other two missed days follow as the first three finish; today's interval has not ended.
    assert harness.run_ids("daily") == [f"scheduled__2024-03-0{d}T00:00:00+00:00" for d in range(1, 6)]
    with session_scope(harness.factory) as session:
        assert {r.state for r in runs.list_runs(session, "daily")} == {"success"}
        row = dags.get_dag(session, "daily")
        assert row.next_dagrun_create_after == datetime(2024, 3, 7, tzinfo=UTC)

    harness.clock.now = datetime(2024, 3, 6, 23, 59, 59, tzinfo=UTC)
    harness.tick()
    assert len(harness.run_ids("daily")) == 5
    harness.tick(seconds=1)
    assert harness.run_ids("daily")[-1] == "scheduled__2024-03-06T00:00:00+00:00"


def test_a_folder_of_many_new_dags_gets_its_runs_in_ticks_straight_after_each_other(
    harness: Harness, dags_folder: Path
):
    """More DAGs are due than one tick looks at (100): the scheduler ticks again at once, rather
    than after its idle sleep, until each has its run."""
    write_dag(
        dags_folder,
        "many",
        """
        for n in range(130):
            with DAG(f"many_{n:03d}", schedule="@daily", start_date=START, catchup=False):
                EmptyOperator(task_id="work")
    """,
    )
    harness.settle()
    delays = [harness.tick(), harness.tick()]
    assert delays[0] == 0.0, "a full batch of due DAGs: the next tick comes at once"
    assert delays[1] > 0.0, "every DAG was looked at: the scheduler may rest"
    assert all(harness.run_ids(f"many_{n:03d}") == ["scheduled__2024-03-05T00:00:00+00:00"] for n in range(130))


def test_many_dags_held_back_by_max_active_runs_do_not_make_the_scheduler_spin(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "held",
        """
        for n in range(110):
            with DAG(f"held_{n:03d}", schedule="@daily", start_date=START, catchup=True, max_active_runs=1):
                BashOperator(task_id="work", bash_command="true")
    """,
    )
    harness.settle()
    harness.tick()
    harness.tick()
    # Each DAG has its first missed day running and four more waiting: all still due, none can go.
    assert all(len(harness.run_ids(f"held_{n:03d}")) == 1 for n in range(110))
    assert harness.tick() > 0.0


def test_catchup_false_creates_only_the_latest_interval(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "latest_only",
        """
        with DAG("latest_only", schedule="@daily", start_date=START, catchup=False):
            BashOperator(task_id="work", bash_command="echo hi")
    """,
    )
    harness.settle()
    harness.tick()
    assert harness.run_ids("latest_only") == ["scheduled__2024-03-05T00:00:00+00:00"]


def test_a_paused_dag_gets_no_runs_until_it_is_unpaused(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "paused",
        """
        with DAG("paused", schedule="@daily", start_date=START, catchup=False, is_paused_upon_creation=True):
            BashOperator(task_id="work", bash_command="echo hi")
    """,
    )
    harness.settle()
    harness.tick(seconds=5)
    assert harness.run_ids("paused") == []
    with session_scope(harness.factory) as session:
        dags.set_paused(session, "paused", False)
    harness.tick(seconds=1)
    assert harness.run_ids("paused") == ["scheduled__2024-03-05T00:00:00+00:00"]


# --- DAG files --------------------------------------------------------------------------------------


def test_a_new_dag_file_appears_after_the_next_dag_folder_scan(harness: Harness, dags_folder: Path):
    harness.settle()
    write_dag(
        dags_folder,
        "newcomer",
        """
        with DAG("newcomer", schedule=None, start_date=START):
            BashOperator(task_id="work", bash_command="echo hi")
    """,
    )
    harness.settle()
    with session_scope(harness.factory) as session:
        assert dags.get_dag(session, "newcomer") is None, "scanned before dag_dir_list_interval passed"
    harness.clock.advance(seconds=harness.settings.dag_dir_list_interval)
    harness.settle()
    with session_scope(harness.factory) as session:
        row = dags.get_dag(session, "newcomer")
        assert row is not None and row.is_active


def _write_healthy_dag(dags_folder: Path) -> None:
    """A good DAG beside the bad file a test writes: scheduling it shows the scheduler went on."""
    write_dag(
        dags_folder,
        "healthy",
        """
        with DAG("healthy", schedule=None, start_date=START):
            BashOperator(task_id="work", bash_command="echo hi")
    """,
    )


def test_a_broken_dag_file_is_an_import_error_and_other_dags_go_on(harness: Harness, dags_folder: Path):
    (dags_folder / "broken.py").write_text("from tradewind import DAG\nwith DAG('broken' as dag:\n    pass\n")
    _write_healthy_dag(dags_folder)
    harness.settle()
    with session_scope(harness.factory) as session:
        (error,) = import_errors.list_import_errors(session)
        assert error.filename.endswith("broken.py") and "SyntaxError" in error.stacktrace
    harness.trigger("healthy")
    harness.tick(seconds=1)
    assert harness.executor.sent_tasks() == [("work", 1)]


def test_a_dag_file_that_hangs_at_import_becomes_an_import_error_while_the_scheduler_keeps_ticking(
    harness: Harness,
    dags_folder: Path,
):
    _write_healthy_dag(dags_folder)
    harness.settle()
    harness.make(harness.settings.with_overrides(dagbag_import_timeout=1.0))
    (dags_folder / "hangs.py").write_text("import time\nfrom tradewind import DAG\ntime.sleep(60)\n")
    harness.trigger("healthy")
    started = time.monotonic()
    harness.tick(seconds=1)
    assert harness.scheduler.parsing
    assert harness.executor.sent_tasks() == [("work", 1)], "the hanging import held up scheduling"
    while harness.scheduler.parsing:
        assert time.monotonic() - started < 10
        tick_started = time.monotonic()
        harness.tick()
        assert time.monotonic() - tick_started < 0.5, "a tick waited for the hanging import"
        time.sleep(0.05)
    with session_scope(harness.factory) as session:
        (error,) = import_errors.list_import_errors(session)
    assert error.filename.endswith("hangs.py") and "longer than 1 s" in error.stacktrace
    assert time.monotonic() - started < 5


def test_a_dag_file_that_kills_its_importing_process_is_an_import_error_naming_the_signal(
    harness: Harness,
    dags_folder: Path,
):
    # A native extension that crashes, or a file calling os._exit, ends the process before it can answer.
    (dags_folder / "crashes.py").write_text(
        "import os, signal\nfrom tradewind import DAG\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    _write_healthy_dag(dags_folder)
    harness.settle()
    with session_scope(harness.factory) as session:
        (error,) = import_errors.list_import_errors(session)
    assert error.filename.endswith("crashes.py")
    assert "the process importing the file died (exit code -9) before it finished" in error.stacktrace
    harness.trigger("healthy")
    harness.tick(seconds=1)
    assert harness.executor.sent_tasks() == [("work", 1)]


def test_a_running_run_follows_its_dag_file_when_tasks_are_added_or_removed(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "growing",
        """
        with DAG("growing", schedule=None, start_date=START):
            BashOperator(task_id="first", bash_command="true") >> BashOperator(task_id="old", bash_command="true")
    """,
    )
    harness.settle()
    harness.trigger("growing")
    harness.tick(seconds=1)
    write_dag(
        dags_folder,
        "growing",
        """
        with DAG("growing", schedule=None, start_date=START):
            BashOperator(task_id="first", bash_command="true") >> BashOperator(task_id="new", bash_command="true")
    """,
    )
    harness.clock.advance(seconds=harness.settings.dag_dir_list_interval)
    harness.settle()
    harness.run_all_sent()
    assert drive_to_end(harness, "growing") == "success"
    assert harness.states("growing") == {"first": ("success", 1), "new": ("success", 1), "old": ("removed", 0)}


# --- task instances ---------------------------------------------------------------------------------


def test_a_chain_runs_task_after_task_and_empty_operators_finish_without_a_worker(
    harness: Harness,
    dags_folder: Path,
):
    write_dag(
        dags_folder,
        "chain",
        """
        with DAG("chain", schedule=None, start_date=START):
            start = EmptyOperator(task_id="start")
            a = BashOperator(task_id="a", bash_command="echo a")
            b = BashOperator(task_id="b", bash_command="echo b", queue="special")
            done = EmptyOperator(task_id="done")
            start >> a >> b >> done
    """,
    )
    harness.settle()
    harness.trigger("chain")
    harness.tick(seconds=1)
    assert harness.executor.sent_tasks() == [("a", 1)], "start (empty) was finished by the scheduler"
    assert harness.states("chain")["start"] == ("success", 1)
    harness.run_all_sent()
    harness.tick(seconds=1)
    assert harness.executor.sent_tasks() == [("a", 1), ("b", 1)]
    assert harness.executor.queues == ["default", "special"]
    harness.run_all_sent()
    harness.tick(seconds=1)
    assert harness.run_state("chain") == "success"
    assert harness.states("chain") == {
        "start": ("success", 1),
        "a": ("success", 1),
        "b": ("success", 1),
        "done": ("success", 1),
    }


def test_a_failed_try_comes_back_after_its_retry_delay_by_the_clock(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "retrying",
        """
        with DAG("retrying", schedule=None, start_date=START):
            BashOperator(task_id="flaky", bash_command="exit 1", retries=1, retry_delay=timedelta(minutes=5))
    """,
    )
    harness.settle()
    harness.trigger("retrying")
    harness.tick(seconds=1)
    assert harness.run_all_sent(ok=False) == 1
    assert harness.states("retrying")["flaky"] == ("up_for_retry", 1)
    assert harness.tick(seconds=1) <= harness.settings.scheduler_idle_sleep
    harness.tick(seconds=297)
    assert harness.executor.sent_tasks() == [("flaky", 1)], "retried before retry_delay passed"
    harness.tick(seconds=2)
    assert harness.executor.sent_tasks() == [("flaky", 1), ("flaky", 2)]
    harness.run_all_sent(ok=False)
    harness.tick(seconds=1)
    assert harness.states("retrying")["flaky"] == ("failed", 2)
    assert harness.run_state("retrying") == "failed"


def test_parallelism_and_pool_slots_are_respected_highest_priority_first(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "wide",
        """
        with DAG("wide", schedule=None, start_date=START, max_active_tasks=100):
            for i in range(6):
                BashOperator(task_id=f"t{i}", bash_command="true", priority_weight=i, weight_rule="absolute")
            for i in range(3):
                BashOperator(task_id=f"db{i}", bash_command="true", pool="db", pool_slots=2, priority_weight=10 + i,
                             weight_rule="absolute")
            BashOperator(task_id="lost", bash_command="true", pool="no_such_pool")
    """,
    )
    with session_scope(harness.factory) as session:
        pools.set_pool(session, "db", 3)
    harness.make(harness.settings.with_overrides(parallelism=4))
    harness.settle()
    harness.trigger("wide")
    harness.tick(seconds=1)
    # db2 (weight 12) takes 2 of db's 3 slots, db1 and db0 do not fit; then the highest t*.
    assert harness.executor.sent_tasks() == [("db2", 1), ("t5", 1), ("t4", 1), ("t3", 1)]
    assert harness.states("wide")["lost"] == ("failed", 1)
    with session_scope(harness.factory) as session:
        text, _ = logs.read_log(session, TIKey("wide", "manual__1", "lost"), 1)
    assert "pool 'no_such_pool' does not exist" in text
    harness.tick(seconds=1)
    assert len(harness.executor.sent) == 4, "parallelism is 4"
    harness.run_all_sent()
    harness.tick(seconds=1)
    assert harness.executor.sent_tasks()[4:] == [("db1", 1), ("t2", 1), ("t1", 1), ("t0", 1)]


def test_max_active_tasks_and_max_active_tis_per_dag_are_respected(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "narrow",
        """
        with DAG("narrow", schedule=None, start_date=START, max_active_tasks=3, max_active_runs=5):
            for i in range(5):
                BashOperator(task_id=f"t{i}", bash_command="true")
        with DAG("one_at_a_time", schedule=None, start_date=START, max_active_runs=5):
            BashOperator(task_id="only", bash_command="true", max_active_tis_per_dag=1)
    """,
    )
    harness.settle()
    harness.trigger("narrow")
    harness.trigger("one_at_a_time", "manual__1")
    harness.trigger("one_at_a_time", "manual__2", T0 + timedelta(hours=1))
    harness.tick(seconds=1)
    sent = harness.executor.sent
    assert sum(m.dag_id == "narrow" for m in sent) == 3
    assert [(m.dag_id, m.run_id) for m in sent if m.dag_id == "one_at_a_time"] == [("one_at_a_time", "manual__1")]
    harness.run_all_sent()
    harness.tick(seconds=1)
    assert sum(m.dag_id == "narrow" for m in harness.executor.sent) == 5
    assert [m.run_id for m in harness.executor.sent if m.dag_id == "one_at_a_time"] == ["manual__1", "manual__2"]


# --- liveness ---------------------------------------------------------------------------------------


def test_a_zombie_is_retried_and_then_failed_with_the_reason_in_its_log(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "zombie",
        """
        with DAG("zombie", schedule=None, start_date=START):
            BashOperator(task_id="sleepy", bash_command="sleep 1000", retries=1, retry_delay=timedelta(0))
    """,
    )
    harness.settle()
    harness.trigger("zombie")
    harness.tick(seconds=1)
    (first,) = harness.executor.sent
    assert harness.claim(first)
    harness.tick(seconds=29)
    assert harness.states("zombie")["sleepy"] == ("running", 1), "declared a zombie before zombie_threshold"
    harness.tick(seconds=2)
    assert harness.states("zombie")["sleepy"] == ("up_for_retry", 1)
    harness.tick(seconds=1)
    assert harness.executor.sent_tasks() == [("sleepy", 1), ("sleepy", 2)]
    assert harness.claim(harness.executor.sent[1])
    harness.tick(seconds=31)
    assert harness.states("zombie")["sleepy"] == ("failed", 2)
    harness.tick(seconds=1)
    assert harness.run_state("zombie") == "failed"
    with session_scope(harness.factory) as session:
        text, _ = logs.read_log(session, TIKey("zombie", "manual__1", "sleepy"), 1)
        tries = task_instances.list_tries(session, TIKey("zombie", "manual__1", "sleepy"))
    assert "zombie: no heartbeat from fake-worker (pid 4242)" in text and "UP_FOR_RETRY" in text
    assert [t.state for t in tries] == ["up_for_retry", "failed"]
    harness.tick(seconds=1)
    with session_scope(harness.factory) as session:
        job = jobs.latest_job(session, "scheduler")
    assert job.counters["zombies"] == 2


def test_a_queued_task_instance_nobody_claims_is_sent_again_with_the_same_try(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "lost",
        """
        with DAG("lost", schedule=None, start_date=START):
            BashOperator(task_id="work", bash_command="true")
    """,
    )
    harness.settle()
    harness.trigger("lost")
    harness.executor.broker_down = True
    harness.tick(seconds=1)
    assert harness.executor.sent == [] and harness.states("lost")["work"] == ("queued", 1)
    harness.executor.broker_down = False
    harness.tick(seconds=30)
    assert harness.executor.sent == []
    harness.tick(seconds=31)
    assert harness.executor.sent_tasks() == [("work", 1)]
    harness.tick(seconds=61)
    assert harness.executor.sent_tasks() == [("work", 1), ("work", 1)], "a message lost in Redis is sent again"
    harness.run_all_sent()
    harness.tick(seconds=1)
    assert harness.run_state("lost") == "success"
    with session_scope(harness.factory) as session:
        assert jobs.latest_job(session, "scheduler").counters["resent"] == 2


def test_a_run_past_its_dagrun_timeout_fails_and_its_unfinished_tasks_are_skipped(
    harness: Harness,
    dags_folder: Path,
):
    write_dag(
        dags_folder,
        "slow",
        """
        with DAG("slow", schedule=None, start_date=START, dagrun_timeout=timedelta(minutes=10)):
            long = BashOperator(task_id="long", bash_command="sleep 3600")
            long >> BashOperator(task_id="after", bash_command="true")
    """,
    )
    harness.settle()
    harness.trigger("slow")
    harness.tick(seconds=1)
    assert harness.claim(harness.executor.sent[0])

    def heartbeat_then_tick(**delta: float) -> None:
        harness.clock.advance(**delta)
        with session_scope(harness.factory) as session:
            assert task_instances.transition(
                session,
                TIKey("slow", "manual__1", "long"),
                expected_state=TI.RUNNING,
                target_state=TI.RUNNING,
                expected_try=1,
                last_heartbeat=harness.clock.now,
            )
        harness.tick()

    for _ in range(9):
        heartbeat_then_tick(minutes=1)
    assert harness.run_state("slow") == "running"
    heartbeat_then_tick(minutes=1, seconds=1)
    assert harness.run_state("slow") == "failed"
    assert harness.states("slow") == {"long": ("skipped", 1), "after": ("skipped", 0)}


# --- clearing ---------------------------------------------------------------------------------------


def _clear(h: Harness, dag_id: str, task_regex: str | None = None, *, only_failed: bool = False) -> int:
    """A person's clear, as the CLI's ``tasks clear`` applies it."""
    options = ActionOptions(task_regex=task_regex, only_failed=only_failed)
    with session_scope(h.factory) as session:
        plan = actions.plan(session, dags.load_dag(session, dag_id), "clear", options, lock=True)
        return actions.apply(session, dag_id, plan, options, owner="test", source="test", now=h.clock.now)


def test_clear_runs_a_task_again_with_a_new_try_and_puts_its_run_back(harness: Harness, dags_folder: Path):
    write_dag(
        dags_folder,
        "cleared",
        """
        with DAG("cleared", schedule=None, start_date=START):
            BashOperator(task_id="a", bash_command="true", retries=1) >> BashOperator(task_id="b", bash_command="true")
    """,
    )
    harness.settle()
    harness.trigger("cleared")
    assert drive_to_end(harness, "cleared") == "success"

    assert _clear(harness, "cleared", "^a$") == 1
    assert harness.run_state("cleared") == "queued"
    with session_scope(harness.factory) as session:
        row = task_instances.get_ti(session, "cleared", "manual__1", "a")
        assert (row.state, row.try_number, row.max_tries) == ("none", 1, 2)
    harness.tick(seconds=1)
    assert harness.executor.sent_tasks()[-1] == ("a", 2)
    assert harness.run_state("cleared") == "running"
    assert drive_to_end(harness, "cleared") == "success"
    assert harness.states("cleared") == {"a": ("success", 2), "b": ("success", 1)}


def test_clearing_a_fixed_task_from_the_web_page_with_its_defaults_lets_the_failed_run_succeed(
    harness: Harness, dags_folder: Path
):
    write_dag(
        dags_folder,
        "recover",
        """
        with DAG("recover", schedule=None, start_date=START):
            fetch = BashOperator(task_id="fetch", bash_command="true")
            transform = BashOperator(task_id="transform", bash_command="true")
            fetch >> transform >> BashOperator(task_id="load", bash_command="true")
    """,
    )
    harness.settle()
    harness.trigger("recover")
    harness.tick(seconds=1)
    assert harness.run_all_sent() == 1  # fetch
    harness.tick(seconds=1)
    assert harness.run_all_sent(ok=False) == 1  # transform fails
    harness.tick(seconds=1)
    assert harness.run_state("recover") == "failed"
    assert harness.states("recover")["load"] == ("upstream_failed", 0)

    # The person fixes transform's cause and clears it from its task instance page, keeping the
    # options the clear page opens with (Airflow's: downstream and recursive).
    app = create_app(harness.settings.with_overrides(secret_key=SECRET_KEY))
    app.config["TESTING"] = True
    try:
        with session_scope(harness.factory) as session:
            users.create_user(session, "op", "op-password", "Op", hash_method=FAST_HASH)
        client = app.test_client()
        assert login(client, "op", "op-password").status_code == 302
        page = client.get("/dags/recover/clear?run_id=manual__1&task_id=transform&map_index=-1")
        assert "Options on: downstream, recursive." in page.text
        confirm = page.text[page.text.index('<form method="post"') :]
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', confirm))
        assert client.post("/dags/recover/clear", data={**form, "csrf_token": csrf_token(client)}).status_code == 302
    finally:
        dispose(app)
    assert harness.states("recover") == {"fetch": ("success", 1), "transform": ("none", 1), "load": ("none", 0)}
    assert harness.run_state("recover") == "queued"
    assert drive_to_end(harness, "recover") == "success"
    assert harness.states("recover") == {"fetch": ("success", 1), "transform": ("success", 2), "load": ("success", 1)}


def test_a_cleared_running_task_runs_again_once_its_worker_has_stopped_every_process_of_it(
    harness: Harness, dags_folder: Path
):
    write_dag(
        dags_folder,
        "restart",
        """
        with DAG("restart", schedule=None, start_date=START):
            BashOperator(task_id="long", bash_command="sleep 100")
    """,
    )
    harness.settle()
    harness.trigger("restart")
    harness.tick(seconds=1)
    first = harness.executor.sent[0]
    assert harness.claim(first)
    assert _clear(harness, "restart") == 1
    assert harness.states("restart")["long"] == ("restarting", 1)
    # The worker notices at its next heartbeat and stops the try; while its processes may live,
    # the task instance stays restarting, however long on_kill takes.
    harness.tick(seconds=5)
    harness.heartbeat(first)
    harness.tick(seconds=20)
    assert harness.states("restart")["long"] == ("restarting", 1)
    # Every process of the try is gone: the worker's end of the try puts it back to none.
    with session_scope(harness.factory) as session:
        assert task_instances.get_ti(session, "restart", first.run_id, "long").live_try == 1
    written, _ = Reporter(harness.factory, _key(first), 1).finish(Outcome(TI.FAILED, error="stopped"))
    assert not written
    assert harness.states("restart")["long"] == ("none", 1)
    harness.tick(seconds=1)
    assert harness.executor.sent_tasks() == [("long", 1), ("long", 2)]
    assert drive_to_end(harness, "restart") == "success"


def test_a_cleared_task_whose_worker_went_silent_runs_again_after_the_zombie_threshold(
    harness: Harness, dags_folder: Path
):
    write_dag(
        dags_folder,
        "silent",
        """
        with DAG("silent", schedule=None, start_date=START):
            BashOperator(task_id="long", bash_command="sleep 100")
    """,
    )
    harness.settle()
    harness.trigger("silent")
    harness.tick(seconds=1)
    assert harness.claim(harness.executor.sent[0])
    assert _clear(harness, "silent") == 1
    # A silent worker fenced its try (or died, and its guardian stopped it) within half the threshold.
    harness.tick(seconds=29)
    assert harness.states("silent")["long"] == ("restarting", 1)
    harness.tick(seconds=2)
    assert harness.states("silent")["long"] == ("none", 1)
    harness.tick(seconds=1)
    assert harness.executor.sent_tasks() == [("long", 1), ("long", 2)]
