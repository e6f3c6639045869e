"""The dag processor: keeps the metastore's picture of the DAG folder up to date.

A file is imported only when its content changed; its DAGs are stored in serialized form with
their hash, a broken file gets an import error (cleared once fixed), and DAGs whose file is gone
become inactive. The scheduler and the web UI read only what this writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore import dag_files, dags, import_errors
from tradewind.metastore.engine import session_scope
from tradewind.sdk.dag_folder import file_hash, list_dag_files
from tradewind.settings import Settings

if TYPE_CHECKING:
    from tradewind.sdk.dag_file import DagFileResult

logger = logging.getLogger(__name__)

#: Imports one file and gives back its result; in-process by default, a child process in the scheduler.
FileLoader = Callable[[Path, Settings], "DagFileResult"]


@dataclass
class SyncReport:
    parsed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    dag_ids: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)


def load_in_process(path: Path, settings: Settings) -> DagFileResult:
    from tradewind.sdk.dag_file import load_dag_file

    return load_dag_file(path, timeout=settings.dagbag_import_timeout, dags_folder=settings.resolved_dags_folder)


def sync_dag_folder(factory: sessionmaker[Session], settings: Settings, *, force: bool = False,
                    loader: FileLoader = load_in_process) -> SyncReport:
    """Bring the metastore in line with the DAG folder; returns what was done."""
    report = SyncReport()
    folder = settings.resolved_dags_folder
    files = list_dag_files(folder)
    with session_scope(factory) as session:
        known = dag_files.get_hashes(session)
    for path in files:
        current_hash = file_hash(path)
        if not force and known.get(str(path)) == current_hash:
            report.unchanged.append(str(path))
            continue
        result = loader(path, settings)
        report.parsed.append(str(path))
        with session_scope(factory) as session:
            _store(session, settings, path, current_hash, result, report)
    with session_scope(factory) as session:
        present = [str(p) for p in files]
        report.removed_files = dag_files.forget_missing(session, present)
        for filename in report.removed_files:
            import_errors.clear_import_error(session, filename)
        dags.deactivate_missing(session, present)
    return report


def _store(session: Session, settings: Settings, path: Path, content_hash: str, result: DagFileResult,
           report: SyncReport) -> None:
    from tradewind.sdk.serialization import dag_hash, serialize_dag

    filename = str(path)
    if result.error is not None:
        logger.warning("import error in %s", result.error)
        report.errors[filename] = result.error
        import_errors.record_import_error(session, filename, _stacktrace(result))
        dag_files.record_file(session, filename, content_hash, dag_ids=None)
        return
    stored: list[str] = []
    for dag in result.dags:
        owner = dags.get_dag(session, dag.dag_id)
        if owner is not None and owner.is_active and owner.fileloc != filename and Path(owner.fileloc).exists():
            message = (f"{filename}: DAG id {dag.dag_id!r} is already defined in {owner.fileloc}; "
                       "this file's copy is ignored")
            report.errors[filename] = message
            import_errors.record_import_error(session, filename, message)
            continue
        serialized = serialize_dag(dag)
        paused = dag.is_paused_upon_creation
        dags.upsert_dag(
            session, dag_id=dag.dag_id, fileloc=filename, serialized=serialized, dag_hash=dag_hash(serialized),
            schedule_description=dag.schedule.description, description=dag.description, tags=dag.tags,
            owners=dag.owner, max_active_runs=dag.max_active_runs, max_active_tasks=dag.max_active_tasks,
            is_paused_upon_creation=settings.dags_are_paused_at_creation if paused is None else paused,
        )
        stored.append(dag.dag_id)
    if filename not in report.errors:
        import_errors.clear_import_error(session, filename)
    previous = dag_files.dag_ids_of(session, filename)
    for gone in set(previous) - set(stored):
        dags.deactivate(session, gone)
    dag_files.record_file(session, filename, content_hash, dag_ids=stored)
    report.dag_ids.extend(stored)


def _stacktrace(result: DagFileResult) -> str:
    """The one-line reason first (what lists show), then the traceback (what the UI opens)."""
    return f"{result.error}\n\n{result.traceback or ''}".rstrip() + "\n"
