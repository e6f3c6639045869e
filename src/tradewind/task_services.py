"""The ``RuntimeServices`` (``sdk/runtime_services.py``) of a process that reaches the metastore:
what task code and DAG files use while they run, built from one ``Settings`` and backed by the
secrets lookup, the metastore's queries, the actions and the event bus.

Each process that reaches the metastore for user code installs one: the worker (which answers
what its tries ask) and its fork server, ``dags test``, ``tasks test``, the scheduler's DAG-file
and callback children.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

from tradewind.errors import VariableNotFound
from tradewind.sdk.connection import Connection
from tradewind.sdk.runtime_services import ExternalDagLink, TriggeredRun
from tradewind.settings import Settings
from tradewind.states import DagRunState


class MetastoreServices:
    """Runtime services over the metastore of ``settings`` (or the session factory given, which the
    process already holds)."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session] | None = None) -> None:
        self._settings = settings
        self._factory = factory
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back otherwise."""
        from tradewind.metastore.engine import session_scope

        with session_scope(self.session_factory()) as session:
            yield session

    def session_factory(self) -> sessionmaker[Session]:
        """The session factory (its engine made on first use)."""
        with self._lock:
            if self._factory is None:
                from tradewind.metastore.engine import create_engine_from_settings, make_session_factory

                self._factory = make_session_factory(create_engine_from_settings(self._settings))
            return self._factory

    def drop_inherited_connections(self, *, parent_single_threaded: bool = False) -> None:
        """In a process just forked from this one's owner: leave the parent's pooled connections to
        the parent (``engine.dispose_after_fork``); nothing to do before the engine is made."""
        factory = self._factory
        if factory is not None:
            from tradewind.metastore.engine import dispose_after_fork

            dispose_after_fork(factory.kw["bind"], parent_single_threaded=parent_single_threaded)

    # --- variables and connections -----------------------------------------------------------------

    def get_variable(self, key: str) -> str | None:
        from tradewind.secrets.lookup import find_variable

        return find_variable(key, self._settings, self.session)

    def variable_from_metastore(self, key: str) -> str | None:
        """The variable as the metastore holds it (what a task's process asks its worker)."""
        from tradewind.secrets.lookup import variable_from_metastore

        return variable_from_metastore(key, self.session)

    def connection_from_metastore(self, conn_id: str) -> Connection | None:
        """The connection as the metastore holds it (what a task's process asks its worker)."""
        from tradewind.secrets.lookup import connection_from_metastore

        return connection_from_metastore(conn_id, self.session)

    def variable_outside_metastore(self, key: str) -> str | None:
        from tradewind.secrets.lookup import variable_outside_metastore

        return variable_outside_metastore(key, self._settings)

    def set_variable(self, key: str, text: str, description: str | None) -> None:
        from tradewind.metastore import variables

        with self.session() as session:
            variables.set_variable(session, key, text, description)

    def delete_variable(self, key: str) -> bool:
        from tradewind.metastore import variables

        with self.session() as session:
            try:
                variables.delete_variable(session, key)
            except VariableNotFound:
                return False
        return True

    def get_connection(self, conn_id: str) -> Connection:
        from tradewind.secrets.lookup import find_connection

        return find_connection(conn_id, self._settings, self.session)

    # --- other DAGs ------------------------------------------------------------------------------

    def external_dag(self, dag_id: str) -> ExternalDagLink:
        from tradewind.metastore import dags
        from tradewind.sdk.serialization import deserialize_dag

        with self.session() as session:
            row = dags.get_dag(session, dag_id)
            if row is None or not row.is_active or row.serialized is None:
                return ExternalDagLink(exists=False)
            dag = deserialize_dag(row.serialized)
        groups: dict[str, frozenset[str]] = {}
        stack = [dag.task_group]
        while stack:
            group = stack.pop()
            if group.group_id is not None:
                groups[group.group_id] = frozenset(t.task_id for t in group.iter_tasks())
            stack.extend(child for child in group.children.values() if hasattr(child, "iter_tasks"))
        return ExternalDagLink(exists=True, task_ids=frozenset(dag.task_dict), groups=groups)

    def count_task_states(self, dag_id: str, dates: Sequence[datetime], task_ids: Sequence[str]) -> dict[str, int]:
        from tradewind.metastore import previous_runs

        with self.session() as session:
            return dict(previous_runs.count_task_states(session, dag_id, list(dates), list(task_ids)))

    def count_run_states(self, dag_id: str, dates: Sequence[datetime]) -> dict[str, int]:
        from tradewind.metastore import previous_runs

        counts: dict[str, int] = {}
        with self.session() as session:
            for run in previous_runs.runs_at(session, dag_id, list(dates)):
                counts[run.state] = counts.get(run.state, 0) + 1
        return counts

    # --- runs --------------------------------------------------------------------------------------

    def trigger_run(
        self,
        dag_id: str,
        *,
        conf: Mapping[str, Any] | None,
        run_id: str | None,
        logical_date: datetime,
        owner: str,
        source: str,
    ) -> TriggeredRun:
        from tradewind.actions.apply import trigger_dag

        with self.session() as session:
            run = trigger_dag(
                session, dag_id, conf=conf, run_id=run_id, logical_date=logical_date, owner=owner, source=source
            )
            triggered = TriggeredRun(run.run_id, _aware(run.logical_date))
        self._wake(dag_id, triggered.run_id)
        return triggered

    def reset_run(
        self, dag_id: str, *, run_id: str | None, logical_date: datetime, owner: str, source: str
    ) -> TriggeredRun:
        from tradewind.actions.apply import set_run_state
        from tradewind.metastore import runs

        with self.session() as session:
            existing = runs.find_run(session, dag_id, run_id=run_id, logical_date=logical_date)
            assert existing is not None  # the trigger just found it taken
            set_run_state(session, dag_id, existing.run_id, DagRunState.QUEUED.value, owner=owner, source=source)
            reset = TriggeredRun(existing.run_id, _aware(existing.logical_date))
        self._wake(dag_id, reset.run_id)
        return reset

    def run_state(self, dag_id: str, run_id: str) -> str:
        from tradewind.metastore import runs

        with self.session() as session:
            return str(runs.get_run(session, dag_id, run_id).state)

    # --- dataset events ----------------------------------------------------------------------------

    def dataset_events(self, uri: str) -> list[dict[str, Any]]:
        from tradewind.metastore import dataset_reads

        with self.session() as session:
            return [event.to_json() for event in dataset_reads.list_events(session, uri=uri, limit=None)]

    def run_dataset_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        from tradewind.metastore import dataset_reads

        with self.session() as session:
            return [event.to_json() for event in dataset_reads.events_of_run(session, dag_id, run_id)]

    def _wake(self, dag_id: str, run_id: str) -> None:
        from tradewind.actions.wake import wake_schedulers

        wake_schedulers(self._settings.broker_url, dag_id, [run_id])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def services_from_environment() -> MetastoreServices:
    """The services of code run outside any tradewind process: the environment's settings."""
    from tradewind.secrets import masker

    settings = Settings.from_env()
    masker.use_sensitive_names(settings.sensitive_name_list)
    return MetastoreServices(settings)
