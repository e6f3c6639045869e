"""The dag-file duty: keep the metastore's DAGs in line with the DAG folder, without blocking.

Every ``dag_dir_list_interval`` the folder is scanned (new, changed and removed files); changed
files are imported in child processes (``DagFileParser``) and stored as they finish, on whichever
tick notices. A DAG whose stored version changed (here, or by a CLI command that parsed it) is made
due for the run-creation duty, which works out its next run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from tradewind.master.scheduler.dag_file_parser import DagFileParser
from tradewind.metastore import scheduling
from tradewind.metastore.engine import session_scope
from tradewind.settings import Settings


@dataclass
class DagFilesReport:
    parsed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    #: DAGs whose stored version is new to this scheduler.
    changed_dags: list[str] = field(default_factory=list)
    #: Files are being imported: look again soon.
    busy: bool = False
    next_scan: datetime | None = None


class DagFilesDuty:
    def __init__(self, settings: Settings, parser: DagFileParser) -> None:
        self.settings = settings
        self.parser = parser
        self._next_scan: datetime | None = None
        #: dag_id -> dag_hash this scheduler last made due for run creation
        self._known: dict[str, str | None] = {}

    def __call__(self, factory: sessionmaker[Session], now: datetime) -> DagFilesReport:
        report = DagFilesReport()
        polled = self.parser.poll(factory)
        report.parsed, report.errors = polled.parsed, dict(polled.errors)
        scanned = self._next_scan is None or now >= self._next_scan
        if scanned:
            self._next_scan = now + timedelta(seconds=self.settings.dag_dir_list_interval)
            report.removed = self.parser.scan(factory).removed_files
        if scanned or polled.parsed:
            with session_scope(factory) as session:
                report.changed_dags = self._refresh(session, now)
        report.busy = self.parser.busy
        report.next_scan = self._next_scan
        return report

    def _refresh(self, session: Session, now: datetime) -> list[str]:
        hashes = scheduling.active_dag_hashes(session)
        changed = sorted(dag_id for dag_id, dag_hash in hashes.items() if self._known.get(dag_id) != dag_hash)
        scheduling.request_next_dagrun_check(session, changed, now)
        self._known = hashes
        return changed

    def close(self) -> None:
        self.parser.close()
