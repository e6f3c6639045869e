"""Opening the metastore from a command; only the commands that need user code sync the DAG folder.

As Airflow's, ``dags trigger``, ``pause``, ``unpause``, ``backfill``, ``tasks clear``, ``state``
and the like act on the DAGs as the metastore holds them (the dag processor's picture) and import
nothing; a DAG the metastore does not know yet is a clear error that says how to get it parsed.
``dags list``, ``dags test``, ``tasks test`` and ``tasks render`` sync the folder first
(``sync=True``), and a command never imports a DAG file in its own process before a child has
imported it first (``dag_file_child.py``): a file that calls ``os._exit`` or hangs at import
becomes an import error and a clear message, never a command that prints nothing and exits 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tradewind.settings import Settings


@contextmanager
def open_metastore(settings: Settings, *, sync: bool = False) -> Iterator[Any]:
    """A session factory on a migrated metastore; with ``sync``, its DAGs brought in line with the
    DAG folder first (every changed file imported, each in a child)."""
    from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
    from tradewind.metastore.schema_version import ensure_migrated

    engine = create_engine_from_settings(settings)
    try:
        ensure_migrated(engine, settings)
        factory = make_session_factory(engine)
        if sync:
            # Only here: the verbs that act on the metastore alone need none of the dag processor.
            from tradewind.master.scheduler.dag_file_child import load_in_child
            from tradewind.master.scheduler.dag_processor import sync_dag_folder

            sync_dag_folder(factory, settings, loader=load_in_child)
        yield factory
    finally:
        engine.dispose()


@contextmanager
def metastore_session(settings: Settings) -> Iterator[Any]:
    """One unit of work on the migrated metastore (the DAG folder left alone): committed when the
    block ends, rolled back when it raises."""
    from tradewind.metastore.engine import session_scope

    with open_metastore(settings) as factory, session_scope(factory) as session:
        yield session


def require_parsed_dag(session: Any, settings: Settings, dag_id: str) -> Any:
    """The DAG's row when the metastore holds it parsed and its file still there; else
    ``DagNotFound`` saying what to do: a new file waits for the scheduler's dag processor (or
    ``tradewind dags reserialize``), a broken one shows in ``dags list-import-errors``."""
    from tradewind.errors import DagNotFound
    from tradewind.metastore import dags, import_errors

    row = dags.get_dag(session, dag_id)
    if row is not None and row.is_active and row.serialized is not None:
        return row
    errors = [e.stacktrace.splitlines()[0] for e in import_errors.list_import_errors(session) if e.stacktrace]
    raise DagNotFound(
        f"DAG {dag_id!r} not found in the metastore: no parsed DAG of that id from {settings.resolved_dags_folder}. "
        "A new file is known once the scheduler has parsed it; wait for it, or run `tradewind dags reserialize`"
        f"{_import_errors_hint(errors)}"
    )


def load_live_dag(settings: Settings, factory: Any, dag_id: str) -> Any:
    """The DAG object itself (user code imported), found through the metastore's picture; its file
    is imported in a child first, so a file that kills or hangs the import is a clear error here."""
    from tradewind.errors import DagFileImportError, DagNotFound
    from tradewind.master.scheduler.dag_file_child import load_in_child
    from tradewind.metastore import dags, import_errors
    from tradewind.metastore.engine import session_scope
    from tradewind.worker.dag_loader import DagLoader

    with session_scope(factory) as session:
        row = dags.get_dag(session, dag_id)
        fileloc = row.fileloc if row is not None and row.is_active else None
        errors = [e.stacktrace.splitlines()[0] for e in import_errors.list_import_errors(session) if e.stacktrace]
    if fileloc is None:
        raise DagNotFound(f"DAG {dag_id!r} not found in {settings.resolved_dags_folder}{_import_errors_hint(errors)}")
    # The file may have changed since the sync, or import a helper module that did.
    checked = load_in_child(Path(fileloc), settings)
    if checked.error is not None:
        raise DagFileImportError(f"DAG {dag_id!r} cannot be loaded: {checked.error}")
    loader = DagLoader(dags_folder=settings.resolved_dags_folder, import_timeout=settings.dagbag_import_timeout)
    return loader.get_dag(fileloc, dag_id)


def _import_errors_hint(errors: list[str]) -> str:
    """The end of a "not found" line: the DAG may be in a file that failed to import."""
    if not errors:
        return ""
    others = f" and {len(errors) - 1} other file(s)" if len(errors) > 1 else ""
    return f"; it may be in a file that failed to import: {errors[0]}{others} (see `tradewind dags list-import-errors`)"
