"""The metastore as running task code sees it: ``Variable.get``, ``BaseHook.get_connection``,
``ExternalTaskSensor`` and ``TriggerDagRunOperator`` open their sessions here.

The process that runs a try binds the session factory it already has (the worker's forked child,
``dags test``, ``tasks test``); anywhere else (a DAG file read at parse time, a plain script) the
first use builds one from ``Settings.from_env()``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

_lock = threading.Lock()
_factory: sessionmaker[Session] | None = None


def bind(factory: sessionmaker[Session] | None) -> None:
    """Make ``factory`` the one task code uses in this process (``None`` forgets it)."""
    global _factory
    with _lock:
        _factory = factory


def session_factory() -> sessionmaker[Session]:
    """The bound factory, or one built from the environment's settings on first use."""
    global _factory
    with _lock:
        if _factory is None:
            from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
            from tradewind.settings import Settings

            _factory = make_session_factory(create_engine_from_settings(Settings.from_env()))
        return _factory


@contextmanager
def task_session() -> Iterator[Session]:
    """A session that commits when the block ends cleanly and rolls back otherwise."""
    from tradewind.metastore.engine import session_scope

    with session_scope(session_factory()) as session:
        yield session
