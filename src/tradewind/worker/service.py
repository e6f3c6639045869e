"""What a warm worker process holds between tasks, and what it does with one message.

The worker's slots are threads of one process (Celery's ``threads`` pool) sharing one set of
services, built on first use: an engine whose pool the threads share, an event-bus connection, a
``DagLoader`` and the follow-up's cache of stored DAGs. Each try runs in processes of its own
forked from the worker's fork server, which imports the DAG files; the worker only tries each new
file version in a child first and imports none itself. A process forked from this one (it has no
fork server of its own) builds its own services, its ``DagLoader`` keeping DAG modules imported
between its tries, never reusing the parent's sockets.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tradewind.errors import DagFileImportError, DagNotFound, TaskNotFound
from tradewind.metastore.engine import (
    create_engine_from_settings,
    dispose_after_fork,
    make_session_factory,
)
from tradewind.metastore.task_instances import TIKey
from tradewind.queue.events import EventBus, PublishingInBackground, make_event_bus
from tradewind.queue.messages import TaskMessage
from tradewind.sdk import runtime_services
from tradewind.settings import Settings
from tradewind.task_services import MetastoreServices
from tradewind.worker import shutdown
from tradewind.worker.dag_loader import DagLoader
from tradewind.worker.follow_up import Followed, FollowUp, Sender
from tradewind.worker.fork_server import ForkServer, TaskNotLoadable
from tradewind.worker.outcome import Outcome
from tradewind.worker.reporting import ClaimedTry, Reporter, end_claimed
from tradewind.worker.runner import RunnerOptions, run_claimed, stored_retry_policy
from tradewind.worker.task_facts import TaskFacts
from tradewind.worker.task_process import warm_up

logger = logging.getLogger(__name__)


@dataclass
class WorkerServices:
    """One worker process's connections and caches, shared by its threads."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    loader: DagLoader
    events: EventBus
    options: RunnerOptions
    #: Follows up on a finished try's run (PostgreSQL with a broker to send to); None otherwise.
    follow_up: FollowUp | None = None

    def reset_after_fork(self) -> None:
        """Called in each task's forked child: it must open its own database connections."""
        dispose_after_fork(self.engine)

    def close(self) -> None:
        self.events.close()
        self.engine.dispose()


def create_services(
    settings: Settings,
    hostname: str,
    *,
    queues: Sequence[str] = ("default",),
    sender: Sender | None = None,
    concurrency: int | None = None,
    fork_server: ForkServer | None = None,
) -> WorkerServices:
    """``fork_server``: where the tries' processes are forked from (None: from this process)."""
    warm_up()
    # Each slot's thread, its try's heartbeat thread and the thread answering its task's calls may
    # hold a connection at the same moment.
    engine = create_engine_from_settings(settings, threads=None if concurrency is None else 3 * concurrency + 2)
    factory = make_session_factory(engine)
    # What runs here (a DAG file imported where there is no fork server, the task processes forked
    # from here then) reaches the metastore through these; the tries' own calls are answered here.
    runtime_services.install(MetastoreServices(settings, factory))
    options = RunnerOptions.from_settings(settings, hostname=hostname, fork_server=fork_server)
    follow = None
    if sender is not None and engine.dialect.name == "postgresql":
        follow = FollowUp(factory, settings, queues, sender, options)
    return WorkerServices(
        settings=settings,
        engine=engine,
        factory=factory,
        # Where there is a fork server, only to try each new file version in a child before the
        # fork server imports it; where there is none, to import the DAG files too.
        loader=DagLoader(
            dags_folder=settings.resolved_dags_folder,
            import_timeout=settings.dagbag_import_timeout,
            after_fork=lambda: dispose_after_fork(engine),
        ),
        # A slot goes on to its next task at once; the scheduler's wake-up follows.
        events=PublishingInBackground(make_event_bus(settings.broker_url)),
        options=options,
        follow_up=follow,
    )


class ProcessServices:
    """The services of the current process, built once per process (and again after a fork)."""

    def __init__(
        self,
        settings: Settings,
        hostname: str,
        *,
        queues: Sequence[str] = ("default",),
        sender: Sender | None = None,
        concurrency: int | None = None,
        fork_server: ForkServer | None = None,
    ) -> None:
        self.settings = settings
        self.fork_server = fork_server
        self.concurrency = concurrency
        self.hostname = hostname
        self.queues = list(queues)
        self.sender = sender
        self._services: WorkerServices | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def get(self) -> WorkerServices:
        services = self._services
        if services is not None and self._pid == os.getpid():
            return services
        with self._lock:
            if self._services is not None and self._pid != os.getpid():
                # Inherited through a fork: drop the parent's pooled sockets without closing them.
                dispose_after_fork(self._services.engine)
                self._services = None
            if self._services is None:
                fork_server = self.fork_server
                self._services = create_services(
                    self.settings,
                    self.hostname,
                    queues=self.queues,
                    sender=self.sender,
                    concurrency=self.concurrency,
                    # A process forked from the worker forks its tries itself.
                    fork_server=fork_server if fork_server is not None and fork_server.owner == os.getpid() else None,
                )
                self._pid = os.getpid()
            return self._services

    def connect_signals(self) -> None:
        from celery.signals import worker_ready, worker_shutdown  # type: ignore[import-untyped]

        # weak=False: these are bound methods of an object nothing else may keep alive.
        worker_ready.connect(self._on_ready, weak=False)
        worker_shutdown.connect(self._on_shutdown, weak=False)

    def _on_ready(self, sender: Any = None, **kwargs: Any) -> None:
        # Built before the first message arrives, so the first task does not wait for it; then
        # what the worker has built is frozen out of the garbage collector's reach, so a
        # collection in a task's process does not copy the pages it shares with the worker.
        self.get()
        gc.freeze()

    def _on_shutdown(self, sender: Any = None, **kwargs: Any) -> None:
        with self._lock:
            if self._services is not None and self._pid == os.getpid():
                self._services.close()
                self._services = None


def handle_message(message: TaskMessage, services: WorkerServices) -> Outcome | None:
    """Run the try ``message`` names (or end it when its task cannot be loaded), then each task its
    follow-up claimed for this worker, one after the other. Returns the first try's outcome; None
    when that try was not this worker's to run (a duplicate, stale or already claimed message)."""
    first: Outcome | None = None
    reporter: Reporter | None = None
    claimed: ClaimedTry | None = None
    for step in itertools.count():
        outcome, followed = _handle_one(message, services, reporter, claimed)
        if step == 0:
            first = outcome
        if outcome is None:
            break
        if followed is not None and services.follow_up is not None:
            services.follow_up.send(followed.rest)
        # Published after the follow-up took its run, so a woken scheduler finds the run decided.
        services.events.publish_task_ended(message.dag_id, message.run_id)
        if followed is None or followed.local is None:
            break
        message, reporter, claimed = followed.local, followed.reporter, followed.claimed
    return first


def _key(message: TaskMessage) -> TIKey:
    return TIKey(message.dag_id, message.run_id, message.task_id, message.map_index)


def _handle_one(
    message: TaskMessage, services: WorkerServices, reporter: Reporter | None = None, claimed: ClaimedTry | None = None
) -> tuple[Outcome | None, Followed | None]:
    """Claim the try unless a follow-up already did (one transaction that also reads what the try
    needs), then run it — or end it, when its task cannot be loaded. (None, None) when the try was
    not this worker's to claim."""
    key = _key(message)
    if reporter is None or claimed is None:
        if shutdown.COLD.is_set():
            logger.info("%s: the worker is shutting down cold; the try stays queued", message.describe())
            return None, None
        reporter = services.options.reporter(services.factory, key, message.try_number)
        claimed = reporter.claim(hostname=services.options.hostname, pid=os.getpid())
    if claimed is None:
        logger.info("%s: %s; dropping the message", message.describe(), reporter.why_not_claimed())
        return None, None
    task = tried = None
    if not claimed.fileloc:
        problem: str | None = f"DAG {message.dag_id!r} is not in the metastore (or has no file)"
    elif services.options.fork_server is None:
        task, problem = _load_task(services.loader, claimed.fileloc, message)
    else:
        # The fork server loads the task (and says when it cannot), once the file's version has
        # imported cleanly in a child of this process: a file that hangs or crashes its importer
        # fails its own tries, and the fork server, which starts every try, goes on.
        tried, problem = _check_file(services.loader, claimed.fileloc, message)
    follow_up = services.follow_up
    then = None
    if follow_up is not None:

        def then(session: Session, ended: Outcome, facts: TaskFacts | None) -> Followed | None:
            return follow_up.plan_in(
                session,
                key,
                ended,
                facts,
                hostname=services.options.hostname,
                pid=os.getpid(),
                claim_one=not shutdown.SHUTTING_DOWN.is_set(),
            )

    if problem is None:
        try:
            outcome, followed = run_claimed(
                services.factory,
                services.reset_after_fork,
                task,
                reporter,
                claimed,
                services.options,
                then=then,
                tried=tried,
            )
        except TaskNotLoadable as exc:
            problem = str(exc)
        else:
            logger.info("%s ended %s", message.describe(), outcome.state)
            return outcome, followed
    logger.error("%s cannot run: %s", message.describe(), problem)
    return end_claimed(reporter, claimed, problem, stored_retry_policy(services.factory, key)), None


def _check_file(loader: DagLoader, fileloc: str, message: TaskMessage) -> tuple[str | None, str | None]:
    """(the content hash of the file's version tried, None) or (None, why it cannot be loaded)."""
    try:
        tried, error = loader.check(fileloc)
    except Exception as exc:  # noqa: BLE001 - whatever the reason (no process to fork), the try must end
        logger.exception("trying %s for %s failed", fileloc, message.describe())
        return None, "".join(traceback.format_exception_only(exc)).strip()
    return (None, error) if error is not None else (tried, None)


def _load_task(loader: DagLoader, fileloc: str, message: TaskMessage) -> tuple[Any, str | None]:
    """(the live task, None) or (None, why it cannot be loaded)."""
    try:
        return loader.get_dag(fileloc, message.dag_id).get_task(message.task_id), None
    except (DagFileImportError, DagNotFound, TaskNotFound) as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever the reason, the try must not stay queued
        logger.exception("loading %s from %s failed", message.describe(), fileloc)
        return None, "".join(traceback.format_exception_only(exc)).strip()
