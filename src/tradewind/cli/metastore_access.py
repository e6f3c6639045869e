"""Opening the metastore from a command, with the DAG folder synced into it first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tradewind.settings import Settings


@contextmanager
def open_metastore(settings: Settings, *, sync: bool = True) -> Iterator[Any]:
    """A session factory on a migrated metastore whose DAGs match the DAG folder."""
    from tradewind.master.scheduler.dag_processor import sync_dag_folder
    from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
    from tradewind.metastore.schema_version import ensure_migrated

    engine = create_engine_from_settings(settings)
    try:
        ensure_migrated(engine, settings)
        factory = make_session_factory(engine)
        if sync:
            sync_dag_folder(factory, settings)
        yield factory
    finally:
        engine.dispose()


@contextmanager
def metastore_session(settings: Settings) -> Iterator[Any]:
    """One unit of work on the migrated metastore (the DAG folder left alone): committed when the
    block ends, rolled back when it raises."""
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings, sync=False) as factory, session_scope(factory) as session:
        yield session


def load_live_dag(settings: Settings, factory: Any, dag_id: str) -> Any:
    """The DAG object itself (user code imported), found through the metastore's picture."""
    from tradewind.errors import DagNotFound
    from tradewind.metastore import dags, import_errors
    from tradewind.metastore.engine import session_scope
    from tradewind.worker.dag_loader import DagLoader

    with session_scope(factory) as session:
        row = dags.get_dag(session, dag_id)
        fileloc = row.fileloc if row is not None and row.is_active else None
        errors = len(import_errors.list_import_errors(session))
    if fileloc is None:
        hint = f"; {errors} file(s) failed to import, see `tradewind dags list-import-errors`" if errors else ""
        raise DagNotFound(f"DAG {dag_id!r} not found in {settings.resolved_dags_folder}{hint}")
    loader = DagLoader(dags_folder=settings.resolved_dags_folder, import_timeout=settings.dagbag_import_timeout)
    return loader.get_dag(fileloc, dag_id)
