"""Two schedulers on one PostgreSQL metastore, ticking the same 20 runs at once, never send the same
try of a task instance twice and bring every run to its end (ARCHITECTURE.md, invariant 5)."""

from __future__ import annotations

import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tradewind.decisions.task_nodes import task_rows
from tradewind.master.executor.base import QueueItem
from tradewind.master.scheduler.dag_processor import sync_dag_folder
from tradewind.master.scheduler.loop import Scheduler
from tradewind.metastore import dags, runs, task_instances
from tradewind.metastore.engine import create_engine_from_settings, make_session_factory, session_scope
from tradewind.metastore.migrate import migrate
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.messages import TaskMessage
from tradewind.sdk.serialization import deserialize_dag
from tradewind.settings import Settings
from tradewind.states import TaskInstanceState as TI

pytestmark = pytest.mark.integration

RUNS = 20
DAG_FILE = """
from datetime import datetime, timezone
from tradewind import BashOperator, DAG, EmptyOperator

with DAG("fan", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), max_active_runs=100,
         max_active_tasks=1000):
    tasks = [BashOperator(task_id=f"part_{i}", bash_command="true") for i in range(3)]
    tasks >> BashOperator(task_id="merge", bash_command="true") >> EmptyOperator(task_id="done")
"""


class RecordingExecutor:
    """Hands every message to the shared fake worker queue and records who sent what."""

    def __init__(self, name: str, log: list[tuple[str, TaskMessage]], lock: threading.Lock) -> None:
        self.name, self.log, self.lock = name, log, lock

    def send(self, items: Sequence[QueueItem]) -> list[TaskMessage]:
        with self.lock:
            self.log.extend((self.name, message) for message, _ in items)
        return []

    def close(self) -> None:
        pass


def two_schedulers(
    settings: Settings,
    factories: Sequence[sessionmaker[Session]],
    sent: list[tuple[str, TaskMessage]],
    lock: threading.Lock,
) -> list[Scheduler]:
    """Schedulers "a" and "b", each on its own engine, recording what they send into ``sent``."""
    return [
        Scheduler(settings, factory, RecordingExecutor(name, sent, lock))
        for name, factory in zip(("a", "b"), factories, strict=True)
    ]


def tick_until_stopped(scheduler: Scheduler, stop: threading.Event, errors: list[BaseException]) -> None:
    """A scheduler's loop, as fast as it goes; what it raises is reported by the test thread."""
    try:
        while not stop.is_set():
            scheduler.tick(datetime.now(UTC))
            time.sleep(0.002)
    except BaseException as exc:  # noqa: BLE001 - reported by the test thread
        errors.append(exc)


def stop_all(stop: threading.Event, threads: list[threading.Thread], schedulers: list[Scheduler]) -> None:
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    for scheduler in schedulers:
        scheduler.close()


@pytest.fixture
def settings(fresh_pg_url: str, tmp_path: Path) -> Settings:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "fan.py").write_text(textwrap.dedent(DAG_FILE))
    settings = Settings(
        home=tmp_path,
        database_url=fresh_pg_url,
        dags_folder=folder,
        dags_are_paused_at_creation=False,
        max_dagruns_per_loop=4,
        parallelism=1000,
    )
    migrate(settings)
    return settings


@pytest.fixture
def engines(settings: Settings) -> Iterator[list[sessionmaker[Session]]]:
    created = [create_engine_from_settings(settings) for _ in range(3)]
    yield [make_session_factory(engine) for engine in created]
    for engine in created:
        engine.dispose()


def test_two_schedulers_ticking_the_same_runs_never_send_a_try_twice(
    settings: Settings,
    engines: list[sessionmaker[Session]],
):
    worker_factory, *scheduler_factories = engines
    sync_dag_folder(worker_factory, settings)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with session_scope(worker_factory) as session:
        dag = deserialize_dag(dags.get_serialized(session, "fan"))
        for i in range(RUNS):
            runs.create_run(
                session,
                dag_id="fan",
                run_id=f"manual__{i}",
                run_type="manual",
                logical_date=start + timedelta(hours=i),
                task_rows=task_rows(dag),
            )

    sent: list[tuple[str, TaskMessage]] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []
    schedulers = two_schedulers(settings, scheduler_factories, sent, lock)

    def work_until_stopped() -> None:
        """The fake worker: claims and finishes whatever was sent, as a worker would."""
        done = 0
        try:
            while not stop.is_set():
                with lock:
                    batch = sent[done:]
                done += len(batch)
                for _, message in batch:
                    key = TIKey(message.dag_id, message.run_id, message.task_id, message.map_index)
                    with session_scope(worker_factory) as session:
                        if task_instances.transition(
                            session,
                            key,
                            expected_state=TI.QUEUED,
                            target_state=TI.RUNNING,
                            expected_try=message.try_number,
                        ):
                            task_instances.transition(
                                session,
                                key,
                                expected_state=TI.RUNNING,
                                target_state=TI.SUCCESS,
                                expected_try=message.try_number,
                            )
                time.sleep(0.002)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=tick_until_stopped, args=(s, stop, errors)) for s in schedulers]
    threads.append(threading.Thread(target=work_until_stopped))
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not errors:
            with session_scope(worker_factory) as session:
                states = [r.state for r in runs.list_runs(session, "fan")]
            if states.count("success") == RUNS:
                break
            time.sleep(0.1)
    finally:
        stop_all(stop, threads, schedulers)

    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    assert states.count("success") == RUNS, Counter(states)
    tries = Counter((m.run_id, m.task_id, m.try_number) for _, m in sent)
    assert [key for key, count in tries.items() if count > 1] == [], "a try was sent twice"
    assert len(tries) == RUNS * 4, "part_0..2 and merge of every run, each sent once; done needs no worker"
    senders = Counter(name for name, _ in sent)
    assert set(senders) == {"a", "b"}, f"both schedulers took part: {senders}"


DATASET_DAGS = """
from datetime import datetime, timezone
from tradewind import BashOperator, DAG
from tradewind.sdk.datasets import Dataset

A, B = Dataset("s3://lake/a"), Dataset("s3://lake/b")
for dag_id, schedule in (("needs_both", [A, B]), ("needs_either", A | B)):
    with DAG(dag_id, schedule=schedule, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), max_active_runs=1000):
        BashOperator(task_id="consume", bash_command="true")
"""
EVENT_ROUNDS = 40


def test_two_schedulers_turn_every_dataset_event_into_exactly_one_run_per_consumer(
    settings: Settings, engines: list[sessionmaker[Session]]
):
    """Events of two datasets arrive (A, then B, forty times) while two schedulers tick: each
    consumer gets every event in exactly one of its runs — none lost, none counted twice — and the
    consumer of ``[A, B]`` never gets a run without both (its last B may still wait for an A)."""
    from sqlalchemy import func, select

    from tradewind.metastore import dataset_reads, datasets
    from tradewind.metastore.models import DagRun, DagRunDatasetEvent

    assert settings.dags_folder is not None
    (settings.dags_folder / "consumers.py").write_text(textwrap.dedent(DATASET_DAGS))
    producer_factory, *scheduler_factories = engines
    sync_dag_folder(producer_factory, settings)

    sent: list[tuple[str, TaskMessage]] = []
    lock, stop = threading.Lock(), threading.Event()
    errors: list[BaseException] = []
    schedulers = two_schedulers(settings, scheduler_factories, sent, lock)
    threads = [threading.Thread(target=tick_until_stopped, args=(s, stop, errors)) for s in schedulers]
    for thread in threads:
        thread.start()
    event_ids: list[int] = []
    try:
        for _ in range(EVENT_ROUNDS):
            for uri in ("s3://lake/a", "s3://lake/b"):
                with session_scope(producer_factory) as session:
                    event_ids += datasets.record_events(
                        session, [datasets.NewEvent(uri)], datasets.EventSource(), datetime.now(UTC)
                    )
                time.sleep(0.003)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not errors:
            with session_scope(producer_factory) as session:
                if not datasets.queued_events(session, "needs_either"):
                    break
            time.sleep(0.05)
    finally:
        stop_all(stop, threads, schedulers)

    assert not errors, errors
    with session_scope(producer_factory) as session:
        assert datasets.queued_events(session, "needs_either") == [], "every event went into a run of needs_either"
        # needs_both may still hold a last B whose A went into the run before it: it waits for the next A.
        waiting = [(q.event_id, q.uri) for q in datasets.queued_events(session, "needs_both")]
        assert waiting in ([], [(event_ids[-1], "s3://lake/b")]), waiting
        taken = session.execute(
            select(DagRun.dag_id, DagRunDatasetEvent.event_id, func.count())
            .join(DagRunDatasetEvent, DagRunDatasetEvent.dag_run_id == DagRun.id)
            .group_by(DagRun.dag_id, DagRunDatasetEvent.event_id)
        ).all()
        for dag_id, still_queued in (("needs_both", [e for e, _ in waiting]), ("needs_either", [])):
            counts = {event_id: count for d, event_id, count in taken if d == dag_id}
            assert sorted([*counts, *still_queued]) == sorted(event_ids), f"{dag_id}: an event was lost"
            assert set(counts.values()) == {1}, f"{dag_id}: an event went into two runs"
        for run in runs.list_runs(session, "needs_both"):
            assert run.run_type == "dataset_triggered"
            uris = {e.dataset_uri for e in dataset_reads.events_of_run(session, "needs_both", run.run_id)}
            assert uris == {"s3://lake/a", "s3://lake/b"}, f"{run.run_id} ran without both datasets"
        made = len(runs.list_runs(session, "needs_either"))
    assert 1 <= made <= len(event_ids)


def test_an_event_waiting_for_a_dag_row_a_scheduler_holds_holds_no_other_dag_row(
    settings: Settings, engines: list[sessionmaker[Session]]
):
    """A scheduler refreshing DAGs locks their rows in dag_id order. An event for two consumers that
    arrives while it holds the first waits for it without holding the second, so the scheduler gets
    the second at once and both commit — PostgreSQL never has to end one of them as a deadlock."""
    from sqlalchemy import text

    from tradewind.metastore import datasets, scheduling

    assert settings.dags_folder is not None
    (settings.dags_folder / "consumers.py").write_text(textwrap.dedent(DATASET_DAGS))
    producer_factory, scheduler_factory, watcher_factory = engines
    sync_dag_folder(producer_factory, settings)
    now = datetime.now(UTC)

    recorded: list[int] = []
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with session_scope(producer_factory) as session:
                recorded.extend(
                    datasets.record_events(session, [datasets.NewEvent("s3://lake/a")], datasets.EventSource(), now)
                )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    producer = threading.Thread(target=produce)
    with session_scope(scheduler_factory) as scheduler_session:
        scheduling.request_next_dagrun_check(scheduler_session, ["needs_both"], now)
        producer.start()
        deadline = time.monotonic() + 10
        waiting = 0
        while time.monotonic() < deadline and not waiting:
            with session_scope(watcher_factory) as session:
                waiting = session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            time.sleep(0.01)
        assert waiting == 1, "the event waits for needs_both, which the scheduler holds"
        # NOWAIT: were needs_either already share-locked by the waiting event, this would fail at once.
        locked = scheduler_session.scalars(
            text("SELECT dag_id FROM dag WHERE dag_id = 'needs_either' FOR UPDATE NOWAIT")
        ).all()
        assert locked == ["needs_either"]
    producer.join(timeout=10)
    assert not errors, errors
    with session_scope(producer_factory) as session:
        assert sorted(q.event_id for q in datasets.queued_events(session, "needs_both")) == recorded
        assert sorted(q.event_id for q in datasets.queued_events(session, "needs_either")) == recorded


COLLATED_DAGS = """
from datetime import datetime, timezone
from tradewind import DAG, EmptyOperator

for dag_id in ("Beta", "alpha", "sales_report", "salesforce_sync"):
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
        EmptyOperator(task_id="noop")
"""


def test_dag_rows_are_locked_in_the_order_python_sorts_dag_ids_whatever_the_database_s_collation(
    _pg_admin: Any, tmp_path: Path
):
    """A metastore created with an English collation (as the postgres image's default is) sorts
    "alpha" before "Beta"; Python, which orders a dataset event's consumers, sorts "Beta" first. The
    schedulers lock DAG rows in Python's order all the same, so the two never lock in opposite orders."""
    from sqlalchemy import select

    from tradewind.metastore import scheduling
    from tradewind.metastore.models import DagModel

    name = f"tradewind_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        )
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "collated.py").write_text(textwrap.dedent(COLLATED_DAGS))
    settings = Settings(home=tmp_path, database_url=f"{_pg_admin.url.set(database=name)}", dags_folder=folder)
    engine = create_engine_from_settings(settings)
    try:
        migrate(settings)
        factory = make_session_factory(engine)
        sync_dag_folder(factory, settings)
        with session_scope(factory) as session:
            by_database = list(session.scalars(select(DagModel.dag_id).order_by(DagModel.dag_id)))
            locked_in = list(session.scalars(select(DagModel.dag_id).order_by(scheduling.dag_id_lock_order(session))))
        assert by_database[:2] == ["alpha", "Beta"], "the database's own collation is not Python's"
        assert locked_in == sorted(locked_in) == ["Beta", "alpha", "sales_report", "salesforce_sync"]
    finally:
        engine.dispose()
        with _pg_admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
