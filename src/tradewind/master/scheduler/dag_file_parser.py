"""Imports changed DAG files in child processes without ever blocking the scheduler's loop.

User code never runs in the scheduler process: a pool of forked children (``PARSING_PROCESSES``)
imports the changed files, each child a batch of them (``plan_batches``), sending back one result
per file as it finishes (``dag_file_batch.py``); every file keeps its own time limit
(``dagbag_import_timeout``). ``scan`` finds new, changed (by stat, then hash) and removed files,
and files whose import failed more than ``min_file_process_interval`` ago (what broke them may be
fixed without a change to the file); ``poll`` stores what the children sent since, in one
transaction (each file in its own should that fail, so a file the metastore refuses is that file's
import error alone), so a file that hangs or crashes becomes an import error for that file alone
(the rest of its batch goes to a fresh child) while the scheduler keeps scheduling everything else.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tradewind.decisions.parse_batches import MAX_BATCH, plan_batches
from tradewind.master.scheduler.dag_file_batch import BatchImport
from tradewind.master.scheduler.dag_processor import (
    ImportedItem,
    SyncReport,
    scan_folder,
    store_imported,
)
from tradewind.sdk.dag_folder import FoundFile
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

#: Files imported at once (Airflow's ``parsing_processes``).
PARSING_PROCESSES = 2


#: Our own modules every import needs, loaded once here so that each forked child starts with
#: them (never a DAG file nor a plugin: those are user code).
_WARM_MODULES = ("tradewind", "tradewind.sdk.dag_file", "tradewind.sdk.serialization")


class DagFileParser:
    def __init__(self, settings: Settings, *, processes: int = PARSING_PROCESSES, batch_cap: int = MAX_BATCH) -> None:
        self.settings = settings
        self.processes = processes
        self.batch_cap = batch_cap
        self._batches: list[BatchImport] = []
        #: path -> the file still to import (with its content hash and stamp), oldest first
        self._waiting: dict[str, FoundFile] = {}
        for module in _WARM_MODULES:
            importlib.import_module(module)

    @property
    def busy(self) -> bool:
        """Whether files are being imported or wait to be."""
        return bool(self._batches or self._waiting)

    def scan(self, factory: sessionmaker[Session]) -> SyncReport:
        """Queue new and changed files for import; forget removed ones (their DAGs become inactive)."""
        report = SyncReport()
        in_flight = self._in_flight()
        # A file that failed to import is due again after min_file_process_interval, unchanged or not.
        for item in scan_folder(factory, self.settings, report).due:
            name = item.path
            importing = in_flight.get(name)
            if importing is not None and importing.content_hash == item.content_hash:
                report.unchanged.append(name)
                continue
            self._waiting[name] = item
        self._start_waiting()
        return report

    def poll(self, factory: sessionmaker[Session]) -> SyncReport:
        """Store what the children sent since the last poll (one transaction); start new children
        for the files waiting, and for the rest of a batch whose child died or ran out of time."""
        report = SyncReport()
        imported: list[ImportedItem] = []
        for batch in list(self._batches):
            progress = batch.collect()
            for item, parsed in progress.done:
                assert item.content_hash is not None
                imported.append(ImportedItem(Path(item.path), item.content_hash, parsed, item.stamp))
            if progress.ended:
                self._batches.remove(batch)
                # Again first, unless a newer version of the file is already waiting.
                rest = {item.path: item for item in progress.rest if item.path not in self._waiting}
                self._waiting = {**rest, **self._waiting}
        imported = [item for item in imported if item.path.exists()]
        if imported:
            report.parsed.extend(str(item.path) for item in imported)
            store_imported(factory, self.settings, imported, report)
        self._start_waiting()
        return report

    def close(self) -> None:
        """Kill every child still importing (the scheduler is stopping)."""
        for batch in self._batches:
            batch.stop()
        self._batches.clear()
        self._waiting.clear()

    def _in_flight(self) -> dict[str, FoundFile]:
        return {item.path: item for batch in self._batches for item in batch.pending}

    def _start_waiting(self) -> None:
        in_flight = self._in_flight()
        # A file still being imported waits: its older version's result must not land after this one's.
        ready = [name for name in self._waiting if name not in in_flight]
        sizes = plan_batches(len(ready), self.processes - len(self._batches), self.processes, cap=self.batch_cap)
        for size in sizes:
            taken, ready = ready[:size], ready[size:]
            self._batches.append(BatchImport.start([self._waiting.pop(name) for name in taken], self.settings))
