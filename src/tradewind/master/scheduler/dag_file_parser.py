"""Imports changed DAG files in child processes without ever blocking the scheduler's loop.

User code never runs in the scheduler process: each changed file is imported by a forked child
with a time limit (``dagbag_import_timeout``, enforced by the child's alarm and, should that fail,
by the parent killing it; ``dag_file_child.py``). ``scan`` finds new, changed (by stat, then hash) and removed files,
and files whose import failed more than ``min_file_process_interval`` ago (what broke them may be
fixed without a change to the file);
``poll`` collects finished children and stores what they found, so a file that hangs or crashes
becomes an import error for that file alone while the scheduler keeps scheduling everything else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tradewind.master.scheduler.dag_file_child import parsed_file, start_import
from tradewind.master.scheduler.dag_processor import (
    ParsedFile,
    SyncReport,
    scan_folder,
    store_parsed_file,
)
from tradewind.master.scheduler.timed_child import TimedChild
from tradewind.metastore.engine import session_scope
from tradewind.sdk.dag_folder import FileStamp, FoundFile
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

#: Files imported at once (Airflow's ``parsing_processes``).
PARSING_PROCESSES = 2


@dataclass
class _Child:
    path: Path
    content_hash: str
    stamp: FileStamp | None
    process: TimedChild


class DagFileParser:
    def __init__(self, settings: Settings, *, processes: int = PARSING_PROCESSES) -> None:
        self.settings = settings
        self.processes = processes
        self._children: dict[str, _Child] = {}
        #: path -> the file still to import (with its content hash and stamp), oldest first
        self._waiting: dict[str, FoundFile] = {}

    @property
    def busy(self) -> bool:
        """Whether files are being imported or wait to be."""
        return bool(self._children or self._waiting)

    def scan(self, factory: sessionmaker[Session]) -> SyncReport:
        """Queue new and changed files for import; forget removed ones (their DAGs become inactive)."""
        report = SyncReport()
        # A file that failed to import is due again after min_file_process_interval, unchanged or not.
        for item in scan_folder(factory, self.settings, report).due:
            name = item.path
            child = self._children.get(name)
            if child is not None and child.content_hash == item.content_hash:
                report.unchanged.append(name)
                continue
            self._waiting[name] = item
        self._start_waiting()
        return report

    def poll(self, factory: sessionmaker[Session]) -> SyncReport:
        """Store what finished children found; kill those past their time limit; start waiting files."""
        report = SyncReport()
        for name, child in list(self._children.items()):
            parsed = self._collect(child)
            if parsed is None:
                continue
            del self._children[name]
            if not child.path.exists():
                continue
            report.parsed.append(name)
            with session_scope(factory) as session:
                store_parsed_file(
                    session, self.settings, child.path, child.content_hash, parsed, report, stamp=child.stamp
                )
        self._start_waiting()
        return report

    def close(self) -> None:
        """Kill every child still importing (the scheduler is stopping)."""
        for child in self._children.values():
            child.process.stop()
        self._children.clear()
        self._waiting.clear()

    def _start_waiting(self) -> None:
        for name in list(self._waiting):
            if len(self._children) >= self.processes:
                return
            if name in self._children:
                continue
            self._children[name] = self._start(self._waiting.pop(name))

    def _start(self, item: FoundFile) -> _Child:
        assert item.content_hash is not None
        return _Child(
            path=Path(item.path),
            content_hash=item.content_hash,
            stamp=item.stamp,
            process=start_import(Path(item.path), self.settings),
        )

    def _collect(self, child: _Child) -> ParsedFile | None:
        """The child's result once it has one (an error if it died or ran out of time), else None."""
        ended = child.process.collect()
        return None if ended is None else parsed_file(child.path, child.process, ended)
