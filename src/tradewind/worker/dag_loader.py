"""Loads the DAG a task belongs to from its file, once per file version.

A worker keeps its process warm: the DAGs of a file are imported the first time one of its tasks
runs and again only when the file's content changes. The worker's threads share one loader and
import one file at a time (importing a DAG file uses process-wide state: the DAG context, the
warnings filters); a thread whose file is already loaded does not wait.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from tradewind.errors import DagFileImportError, DagNotFound
from tradewind.sdk.dag import DAG
from tradewind.sdk.dag_file import file_hash, load_dag_file


@dataclass
class _Entry:
    content_hash: str
    dags: dict[str, DAG]
    error: str | None


class DagLoader:
    """Caches the DAGs of each file by the file's content hash."""

    def __init__(self, *, dags_folder: str | Path | None = None, import_timeout: float | None = None) -> None:
        self.dags_folder = dags_folder
        self.import_timeout = import_timeout
        self._cache: dict[str, _Entry] = {}
        self._import_lock = threading.Lock()

    def get_dag(self, fileloc: str | Path, dag_id: str) -> DAG:
        """The live DAG ``dag_id`` from ``fileloc``; a clear error if the file is gone or broken."""
        path = str(Path(fileloc).resolve())
        try:
            content_hash = file_hash(path)
        except OSError as exc:
            raise DagFileImportError(f"cannot read DAG file {path}: {exc.strerror}") from None
        entry = self._cache.get(path)
        if entry is None or entry.content_hash != content_hash:
            with self._import_lock:
                entry = self._cache.get(path)
                if entry is None or entry.content_hash != content_hash:
                    result = load_dag_file(path, timeout=self.import_timeout, dags_folder=self.dags_folder)
                    entry = _Entry(content_hash, {d.dag_id: d for d in result.dags}, result.error)
                    self._cache[path] = entry
        if entry.error is not None:
            raise DagFileImportError(entry.error)
        try:
            return entry.dags[dag_id]
        except KeyError:
            raise DagNotFound(f"DAG {dag_id!r} is not defined in {path}") from None
