"""The dag processor: keeps the metastore's picture of the DAG folder up to date.

A file is read and hashed only when its stat (modification time, size) moved since it was last
hashed, and imported when its content changed, or when its last import failed more than
``min_file_process_interval`` ago (a missing module installed since, a variable set); its DAGs are
stored in serialized form with their hash, a broken file gets an import error (cleared once
fixed), and DAGs whose file is gone become inactive. The scheduler and the web UI read only what this writes.

Imported files are stored together in one transaction (``store_imported``); should that fail, each
file is stored in a transaction of its own, so a file the metastore refuses becomes that file's
import error and every other file is stored. A value too long for its column (a timetable summary,
the owners) is caught before any statement, as the file's import error, never truncated.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tradewind.decisions.dag_ownership import ImportedFile, OwnershipPlan, plan_ownership
from tradewind.errors import InvalidInput
from tradewind.metastore import dag_code, dag_files, dags, datasets, import_errors
from tradewind.metastore.engine import session_scope
from tradewind.sdk.dag_folder import FileStamp, FoundFile, find_dag_files
from tradewind.settings import Settings

if TYPE_CHECKING:
    from tradewind.metastore.dag_files import KnownFile
    from tradewind.sdk.dag_file import DagFileResult
    from tradewind.sdk.serialization import SerializedDAG

logger = logging.getLogger(__name__)

#: Imports one file and gives back what it defined; in-process by default, a child process in the scheduler.
FileLoader = Callable[[Path, Settings], "ParsedFile"]


@dataclass
class ParsedFile:
    """One imported DAG file as plain data: its DAGs serialized, or the error that stopped it.

    Plain data, so a child process that imported the file can send it back as JSON.
    """

    path: str
    dags: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None

    @classmethod
    def from_result(cls, result: DagFileResult) -> ParsedFile:
        """The plain form of an in-process import (serializing may fail too: that is the file's error)."""
        from tradewind.sdk.serialization import serialize_dag

        if result.error is not None:
            return cls(path=result.path, error=result.error, traceback=result.traceback)
        try:
            return cls(path=result.path, dags=[serialize_dag(dag) for dag in result.dags])
        except Exception as exc:  # noqa: BLE001 - a DAG whose attributes cannot be serialized
            return cls(
                path=result.path,
                error=f"{result.path}: the DAG cannot be serialized: {exc}",
                traceback=traceback.format_exc(),
            )


@dataclass
class SyncReport:
    parsed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    dag_ids: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)

    def absorb(self, other: SyncReport) -> None:
        """Add what ``other`` (one part of this work) did."""
        self.parsed.extend(other.parsed)
        self.unchanged.extend(other.unchanged)
        self.errors.update(other.errors)
        self.dag_ids.extend(other.dag_ids)
        self.removed_files.extend(other.removed_files)


@dataclass
class FolderScan:
    """What one scan of the DAG folder found: the files due for import (each with the hash its
    content was read at), the unchanged ones, and new stamps of files whose content stayed."""

    due: list[FoundFile] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    stamps: dict[str, FileStamp] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)


def plan_scan(
    found: list[FoundFile], known: Mapping[str, KnownFile], retry: Collection[str], *, force: bool = False
) -> FolderScan:
    """Decide which found files to import: new, changed (by hash), due for another try after a
    failed import, or all of them with ``force``. A file not read (its stat matched) has the hash
    recorded with that stat."""
    scan = FolderScan(present=[f.path for f in found])
    for item in found:
        name = item.path
        record = known.get(name)
        content_hash = item.content_hash or (record.content_hash if record is not None else None)
        if force or record is None or content_hash != record.content_hash or name in retry:
            scan.due.append(FoundFile(path=item.path, stamp=item.stamp, content_hash=content_hash))
            continue
        scan.unchanged.append(name)
        if item.stamp is not None and item.stamp != record.stamp:
            scan.stamps[name] = item.stamp
    return scan


def scan_folder(
    factory: sessionmaker[Session], settings: Settings, report: SyncReport, *, force: bool = False
) -> FolderScan:
    """Walk the DAG folder, reading only files whose stat moved; forget removed files (their DAGs
    become inactive), record the stat of unchanged ones; returns what is due for import."""
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.min_file_process_interval)
    with session_scope(factory) as session:
        known = dag_files.get_known_files(session)
        retry = dag_files.failed_files_parsed_before(session, cutoff)
    stamps = {name: k.stamp for name, k in known.items() if k.stamp is not None}
    scan = plan_scan(_recordable(find_dag_files(settings.resolved_dags_folder, stamps)), known, retry, force=force)
    with session_scope(factory) as session:
        forget_removed_files(session, scan.present, report)
        dag_files.record_stamps(session, scan.stamps)
    report.unchanged.extend(scan.unchanged)
    return scan


def _recordable(found: list[FoundFile]) -> list[FoundFile]:
    """The files whose path the metastore can record; one longer than that (nested folders past
    1,000 characters) could hold neither its DAGs nor its import error, so it is only logged."""
    kept = [item for item in found if dag_files.fits_filename(item.path)]
    if len(kept) < len(found):
        skipped = sorted(item.path for item in found if not dag_files.fits_filename(item.path))
        logger.error("%d DAG file(s) skipped, their path is too long to record: %s", len(skipped), ", ".join(skipped))
    return kept


def load_in_process(path: Path, settings: Settings) -> ParsedFile:
    from tradewind.sdk.dag_file import load_dag_file

    result = load_dag_file(path, timeout=settings.dagbag_import_timeout, dags_folder=settings.resolved_dags_folder)
    return ParsedFile.from_result(result)


def sync_dag_folder(
    factory: sessionmaker[Session], settings: Settings, *, force: bool = False, loader: FileLoader = load_in_process
) -> SyncReport:
    """Bring the metastore in line with the DAG folder; returns what was done."""
    report = SyncReport()
    for item in scan_folder(factory, settings, report, force=force).due:
        assert item.content_hash is not None
        path = Path(item.path)
        parsed = loader(path, settings)
        report.parsed.append(item.path)
        store_imported(factory, settings, [ImportedItem(path, item.content_hash, parsed, item.stamp)], report)
    return report


def forget_removed_files(session: Session, present: list[str], report: SyncReport) -> None:
    """Forget files no longer in the folder: their hashes, their import errors, their DAGs."""
    report.removed_files = dag_files.forget_missing(session, present)
    for filename in report.removed_files:
        import_errors.clear_import_error(session, filename)
    dags.deactivate_missing(session, present)
    dag_code.forget_missing(session, present)


@dataclass(frozen=True)
class ImportedItem:
    """A file imported, ready to store: what its import found, and the content hash and stat the
    file was read at when it was found due."""

    path: Path
    content_hash: str
    parsed: ParsedFile
    stamp: FileStamp | None = None


def store_imported(
    factory: sessionmaker[Session], settings: Settings, items: Sequence[ImportedItem], report: SyncReport
) -> None:
    """Store imported files in one transaction; should it fail, each file in a transaction of its
    own, a file that still fails becoming its own import error (every other file is stored)."""
    together = SyncReport()
    try:
        with session_scope(factory) as session:
            store_parsed_files(session, settings, items, together)
    except Exception as exc:  # noqa: BLE001 - whatever one file's store raised, the others are stored
        _raise_if_disconnected(exc)
        logger.warning("storing %d imported files at once failed, storing each on its own: %s", len(items), _cause(exc))
    else:
        report.absorb(together)
        return
    for item in {str(item.path): item for item in items}.values():
        _store_alone(factory, settings, item, report)


def _store_alone(factory: sessionmaker[Session], settings: Settings, item: ImportedItem, report: SyncReport) -> None:
    """Store one file; if the metastore refuses it, record why as the file's import error instead."""
    alone = SyncReport()
    try:
        with session_scope(factory) as session:
            store_parsed_files(session, settings, [item], alone)
    except Exception as exc:  # noqa: BLE001 - a file the metastore refuses is that file's import error
        _raise_if_disconnected(exc)
        refused = ParsedFile(
            path=str(item.path),
            error=f"{item.path}: its DAGs could not be stored: {_cause(exc)}",
            traceback=traceback.format_exc(),
        )
        alone = SyncReport()
        try:
            with session_scope(factory) as session:
                store_parsed_files(session, settings, [replace(item, parsed=refused)], alone)
        except Exception as again:  # noqa: BLE001 - logged; the rest of the batch is still stored
            _raise_if_disconnected(again)
            logger.error("could not record the import error of %s: %s", item.path, _cause(again))
            return
    report.absorb(alone)


def _raise_if_disconnected(exc: Exception) -> None:
    """A lost connection, or a refusal that passes (a deadlock with another scheduler, a lock or
    statement timeout, SQLite busy), is no file's fault: it ends the attempt (the caller's loop
    logs it) and, nothing of the files being recorded, they are imported and stored again."""
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        raise exc


def _cause(exc: Exception) -> str:
    """One line: the database's own message when there is one, without SQLAlchemy's SQL dump."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def store_parsed_files(session: Session, settings: Settings, items: Sequence[ImportedItem], report: SyncReport) -> None:
    """Record imported files in the caller's transaction: each file's DAGs (serialized) or its
    import error, and its content hash with the stat it was read at. A handful of statements for
    the whole batch, whatever its size; of a file given twice, the last counts."""
    from tradewind.sdk.serialization import deserialize_dag

    latest = {str(item.path): item for item in items}
    parsed_dags = {
        name: [deserialize_dag(serialized) for serialized in item.parsed.dags]
        for name, item in latest.items()
        if item.parsed.error is None
    }
    dag_records: dict[str, dict[str, dags.DagRecord]] = {}
    for name, found in list(parsed_dags.items()):
        item = latest[name]
        by_id = {d["dag_id"]: d for d in item.parsed.dags}
        dag_records[name] = {dag.dag_id: _dag_record(settings, name, dag, by_id[dag.dag_id]) for dag in found}
        problem = _unfit(dag_records[name].values())
        if problem is not None:
            latest[name] = replace(item, parsed=ParsedFile(path=item.parsed.path, error=f"{name}: {problem}"))
            del parsed_dags[name], dag_records[name]
    batch = list(latest.values())
    previous = dag_files.dag_ids_by_file(session, latest)
    wanted = {dag.dag_id for found in parsed_dags.values() for dag in found}
    owners = dags.active_filelocs(session, wanted.union(*previous.values()))
    existing = {fileloc for fileloc in set(owners.values()) - set(latest) if Path(fileloc).exists()}
    imported = [
        ImportedFile(name, [d.dag_id for d in parsed_dags[name]] if name in parsed_dags else None) for name in latest
    ]
    plan = plan_ownership(imported, owners, previous, existing)
    errors = _import_errors(latest, plan, report)
    records: list[dags.DagRecord] = []
    stored_dags: list[SerializedDAG] = []
    for name, found in parsed_dags.items():
        keep = set(plan.stored[name])
        for dag in found:
            if dag.dag_id in keep:
                records.append(dag_records[name][dag.dag_id])
                stored_dags.append(dag)
    dags.upsert_dags(session, records)
    datasets.sync_parsed_dags(session, stored_dags)
    import_errors.clear_import_errors(session, [name for name in latest if name not in errors])
    for name, error in sorted(errors.items()):  # in key order, as every bulk write (statements.py)
        import_errors.record_import_error(session, name, error)
    dags.deactivate_many(session, plan.deactivate)
    dag_files.record_files(
        session,
        [
            dag_files.FileRecord(name, item.content_hash, plan.stored.get(name), item.stamp)
            for name, item in latest.items()
        ],
    )
    dag_code.set_codes(session, [source for item in batch if (source := _source(item)) is not None])
    for name in parsed_dags:
        report.dag_ids.extend(plan.stored[name])


def _import_errors(latest: Mapping[str, ImportedItem], plan: OwnershipPlan, report: SyncReport) -> dict[str, str]:
    """filename -> the import error to record: the file's own, or a DAG id another file has."""
    errors = {name: _stacktrace(item.parsed) for name, item in latest.items() if item.parsed.error is not None}
    for name in errors:
        logger.warning("import error in %s", latest[name].parsed.error)
        report.errors[name] = str(latest[name].parsed.error)
    for name, duplicates in plan.duplicates.items():
        for dag_id, owner in duplicates:
            message = f"{name}: DAG id {dag_id!r} is already defined in {owner}; this file's copy is ignored"
            report.errors[name] = errors[name] = message
    return errors


def _unfit(records: Iterable[dags.DagRecord]) -> str | None:
    """Why one of a file's DAGs cannot be stored as it is (a value too long for its column), if so."""
    for record in records:
        try:
            dags.check_record_fits(record)
        except InvalidInput as exc:
            return f"the DAG {record.dag_id!r} cannot be stored: {exc}"
    return None


def _dag_record(settings: Settings, filename: str, dag: SerializedDAG, serialized: dict[str, Any]) -> dags.DagRecord:
    from tradewind.sdk.serialization import dag_hash

    paused = dag.is_paused_upon_creation
    return dags.DagRecord(
        dag_id=dag.dag_id,
        fileloc=filename,
        serialized=serialized,
        dag_hash=dag_hash(serialized),
        schedule_description=dag.timetable.summary,
        description=dag.description,
        tags=dag.tags,
        owners=_owners(dag),
        max_active_runs=dag.max_active_runs,
        max_active_tasks=dag.max_active_tasks,
        is_paused_upon_creation=settings.dags_are_paused_at_creation if paused is None else paused,
        dag_display_name=dag.dag_display_name,
    )


def _source(item: ImportedItem) -> tuple[str, str, str] | None:
    """The file's text for the web UI's code view (reading is not importing), if it can be read."""
    if item.parsed.error is not None:
        return None
    try:
        source = item.path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        logger.warning("could not read %s to store its source: %s", item.path, exc)
        return None
    return str(item.path), source, item.content_hash


def _owners(dag: SerializedDAG) -> str:
    """As the live DAG's ``owner``: the task owners, sorted and joined."""
    return ", ".join(sorted({str(t.data.get("owner")) for t in dag.tasks})) if dag.tasks else "airflow"


def _stacktrace(parsed: ParsedFile) -> str:
    """The one-line reason first (what lists show), then the traceback (what the UI opens)."""
    return f"{parsed.error}\n\n{parsed.traceback or ''}".rstrip() + "\n"
