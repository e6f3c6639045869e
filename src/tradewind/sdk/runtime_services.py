"""What task code and DAG files reach beyond the authoring SDK while they run — variables,
connections, the runs and task instances of other DAGs, triggering a run, the settings — as one
``RuntimeServices`` object that the process running the code provides: the worker's pool and task
processes, ``dags test`` and ``tasks test``, the scheduler's DAG-file and callback children. The
SDK depends on nothing above it; it only calls what is installed here.

Code run outside any tradewind process (``python my_dag.py`` ending in ``dag.test()``, a DAG file
imported by hand) gets the default that the ``tradewind`` package registers: services built from
the environment's settings on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tradewind.errors import ConfigurationError

if TYPE_CHECKING:
    from tradewind.sdk.connection import Connection
    from tradewind.settings import Settings


@dataclass(frozen=True)
class ExternalDagLink:
    """Another DAG as the metastore knows it: whether it exists, its tasks and task groups."""

    exists: bool
    task_ids: frozenset[str] = frozenset()
    #: group id -> the task ids in it (nested groups included)
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class TriggeredRun:
    run_id: str
    logical_date: datetime


class RuntimeServices(Protocol):
    """Everything the SDK asks of the world it runs in."""

    @property
    def settings(self) -> Settings: ...

    # Variables and connections, in Airflow's lookup order: secrets backend, environment, metastore.
    def get_variable(self, key: str) -> str | None: ...

    def variable_outside_metastore(self, key: str) -> str | None: ...

    def set_variable(self, key: str, text: str, description: str | None) -> None: ...

    def delete_variable(self, key: str) -> bool: ...

    def get_connection(self, conn_id: str) -> Connection: ...

    # Other DAGs, for ExternalTaskSensor.
    def external_dag(self, dag_id: str) -> ExternalDagLink: ...

    def count_task_states(self, dag_id: str, dates: Sequence[datetime], task_ids: Sequence[str]) -> dict[str, int]: ...

    def count_run_states(self, dag_id: str, dates: Sequence[datetime]) -> dict[str, int]: ...

    # Runs, for TriggerDagRunOperator.
    def trigger_run(
        self,
        dag_id: str,
        *,
        conf: Mapping[str, Any] | None,
        run_id: str | None,
        logical_date: datetime,
        owner: str,
        source: str,
    ) -> TriggeredRun: ...

    def reset_run(
        self, dag_id: str, *, run_id: str | None, logical_date: datetime, owner: str, source: str
    ) -> TriggeredRun: ...

    def run_state(self, dag_id: str, run_id: str) -> str: ...

    # Dataset events, for ``inlet_events`` and ``triggering_dataset_events`` (JSON-like dicts).
    def dataset_events(self, uri: str) -> list[dict[str, Any]]: ...

    def run_dataset_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]: ...


#: Runs a whole DAG in this process, as ``tradewind dags test`` does (``DAG.test()``).
DagTester = Callable[[Any, "datetime | None", "dict[str, Any]"], Any]

_lock = threading.Lock()
_installed: RuntimeServices | None = None
_default_factory: Callable[[], RuntimeServices] | None = None
_default: RuntimeServices | None = None
_dag_tester: DagTester | None = None


def install(services: RuntimeServices | None) -> None:
    """Make ``services`` what the SDK uses in this process (None: back to the default)."""
    global _installed
    with _lock:
        _installed = services


@contextmanager
def using(services: RuntimeServices) -> Iterator[RuntimeServices]:
    """Install ``services`` for the block, then put back what was installed before."""
    global _installed
    with _lock:
        previous, _installed = _installed, services
    try:
        yield services
    finally:
        with _lock:
            _installed = previous


def current() -> RuntimeServices:
    """The installed services, or the default, built on first use."""
    global _default
    with _lock:
        if _installed is not None:
            return _installed
        if _default is None:
            if _default_factory is None:
                raise ConfigurationError(
                    "no tradewind runtime services in this process: import tradewind (or airflow) first"
                )
            _default = _default_factory()
        return _default


def set_default(factory: Callable[[], RuntimeServices]) -> None:
    """Register what ``current`` builds, on first use, when nothing is installed (the ``tradewind``
    package registers the environment's settings; a CLI command its own)."""
    global _default_factory, _default
    with _lock:
        _default_factory = factory
        _default = None


def set_dag_tester(tester: DagTester) -> None:
    """Register how ``DAG.test()`` runs a DAG (the ``tradewind`` package does)."""
    global _dag_tester
    with _lock:
        _dag_tester = tester


def dag_tester() -> DagTester:
    with _lock:
        tester = _dag_tester
    if tester is None:
        raise ConfigurationError("DAG.test() needs the tradewind package: import tradewind (or airflow) first")
    return tester
