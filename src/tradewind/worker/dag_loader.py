"""Loads the DAG a task belongs to from its file, once per file version.

The process tries are forked from keeps itself warm: the DAGs of a file are imported the first
time one of its tasks runs and again only when the file's content changes, and every try forked
afterwards holds them. That process is a worker's fork server (``fork_server.py``), or, where
there is none, the process that runs the tries itself, whose threads share one loader and import
one file at a time (importing a DAG file uses process-wide state: the DAG context, the warnings
filters); a thread whose file is already loaded does not wait.

Off the main thread no alarm can stop an import (signals reach only the main thread), so there a
new file version is first imported in a forked child with the time limit
(``dagbag_import_timeout``): a file that hangs, or ends the process that imports it
(``os._exit``, a crash), becomes that file's import error, and the process and its other slots go
on. A worker with a fork server only tries each new version so (``check``) and imports none
itself: its fork server imports a version that passed on its main thread, under the time limit,
and tries any other version first itself (``Trials``). Only a file that imported cleanly in the
child is imported into a process with threads — with no other process being forked meanwhile
(``guardian.FORK_LOCK``): a task process forked while the import holds a lock (a module being
imported for the first time) would find that lock held for ever. So while a new file version is
imported, no try starts (tries that end still end); a file that takes long to import (it passed
the trial within the time limit) holds the starts back that long.

What a DAG file's top level changes in the process it runs in (the working directory, environment
variables, logging) it changes for that process and the tasks it starts afterwards; a file should
not, and Airflow's best practices say so too.
"""

from __future__ import annotations

import enum
import json
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from tradewind.errors import DagFileImportError, DagNotFound
from tradewind.sdk.dag import DAG
from tradewind.sdk.dag_file import file_hash, load_dag_file, lost_import_error
from tradewind.timed_child import TimedChild
from tradewind.worker.guardian import forking, importing, pipes_held

#: The time limit of a trial import when the loader has none (seconds).
DEFAULT_TRIAL_TIMEOUT_S = 30.0


class Trials(enum.Enum):
    """Which new versions of a DAG file a loader first imports in a child."""

    #: Those imported off the main thread, where no alarm can stop a hang (a worker's slots).
    OFF_MAIN_THREAD = "off_main_thread"
    #: Those the caller has not tried already (``get_dag``'s ``tried``), and any off the main thread:
    #: a fork server, whose worker tries each version before it asks for a try of it, and which a
    #: version changed in between, or never tried, must not take down.
    UNTRIED = "untried"
    #: Every one: a fork server started after one died, which a version that passed its worker's
    #: trial (its helper modules or packages may differ now) could have taken down.
    ALL = "all"


@dataclass
class _Entry:
    content_hash: str
    dags: dict[str, DAG]
    error: str | None


class DagLoader:
    """Caches the DAGs of each file by the file's content hash."""

    def __init__(
        self,
        *,
        dags_folder: str | Path | None = None,
        import_timeout: float | None = None,
        after_fork: Callable[[], None] | None = None,
        trials: Trials = Trials.OFF_MAIN_THREAD,
    ) -> None:
        """``after_fork`` runs first in a child trying a file (it drops the parent's pooled
        database connections, which a file reading a Variable at its top level would use).
        ``trials``: which new file versions are tried in a child before they are imported here."""
        self.dags_folder = dags_folder
        self.import_timeout = import_timeout
        self.after_fork = after_fork
        self.trials = trials
        self._cache: dict[str, _Entry] = {}
        #: The versions ``check`` tried, with their import error (and no DAGs: nothing was imported).
        self._checked: dict[str, _Entry] = {}
        self._import_lock = threading.Lock()
        #: How many times a file was imported (or failed to): what this process holds changed.
        self.imports = 0

    @staticmethod
    def path_of(fileloc: str | Path) -> str:
        """The path the loader knows ``fileloc`` by (links resolved)."""
        return str(Path(fileloc).resolve())

    def get_dag(self, fileloc: str | Path, dag_id: str, *, tried: str | None = None) -> DAG:
        """The live DAG ``dag_id`` from ``fileloc``; a clear error if the file is gone or broken.
        ``tried``: the content hash of a version already tried in a child (``check``), which the
        main thread imports without trying it again; any other version is tried first."""
        path = self.path_of(fileloc)
        content_hash = _content_hash(path)

        def imported() -> _Entry:
            entry = self._import(path, content_hash, tried)
            self.imports += 1
            return entry

        return _dag_of(self._version(self._cache, path, content_hash, imported), path, dag_id)

    def check(self, fileloc: str | Path) -> tuple[str | None, str | None]:
        """(the content hash of ``fileloc``'s current version, its import error or None when it
        imports cleanly), found by importing that version once in a forked child with the time
        limit; nothing of it is imported here. What a worker asks before its fork server imports a
        file (the fork server, which every try starts from and whose threads guard the tries it
        runs, must not be the process a hanging or crashing file takes down); the fork server tries
        any other version itself.
        A thread whose file version was checked already does not wait."""
        path = self.path_of(fileloc)
        try:
            content_hash = _content_hash(path)
        except DagFileImportError as exc:
            return None, str(exc)
        tried = self._version(
            self._checked, path, content_hash, lambda: _Entry(content_hash, {}, self._trial_import(path))
        )
        return content_hash, tried.error

    def _version(self, known: dict[str, _Entry], path: str, content_hash: str, make: Callable[[], _Entry]) -> _Entry:
        """``known``'s entry for this version of ``path``, made (one file at a time) when it has
        none: a thread whose version is known does not wait for another file's import."""
        entry = known.get(path)
        if entry is None or entry.content_hash != content_hash:
            with self._import_lock:
                entry = known.get(path)
                if entry is None or entry.content_hash != content_hash:
                    entry = known[path] = make()
        return entry

    def cached_dag(self, path: str, dag_id: str) -> DAG:
        """The DAG ``dag_id`` as this loader last loaded it from ``path`` (``path_of``), without
        looking at the file: in a process forked from the loader's, what the parent had loaded
        when it forked (the caller knows it is the version the parent checked, ``imports``)."""
        entry = self._cache.get(path)
        if entry is None:
            raise DagNotFound(f"DAG file {path} was not loaded")
        return _dag_of(entry, path, dag_id)

    def _import(self, path: str, content_hash: str, tried: str | None) -> _Entry:
        if (
            threading.current_thread() is not threading.main_thread()
            or self.trials is Trials.ALL
            or (self.trials is Trials.UNTRIED and content_hash != tried)
        ):
            error = self._trial_import(path)
            if error is not None:
                return _Entry(content_hash, {}, error)
        with importing():
            result = load_dag_file(path, timeout=self.import_timeout, dags_folder=self.dags_folder)
        return _Entry(content_hash, {d.dag_id: d for d in result.dags}, result.error)

    def _trial_import(self, path: str) -> str | None:
        """Import ``path`` in a forked child with the time limit: its import error, or None."""
        timeout = float(self.import_timeout or DEFAULT_TRIAL_TIMEOUT_S)
        dags_folder = None if self.dags_folder is None else str(self.dags_folder)
        with forking():
            child = TimedChild.start(
                _trial_import_main,
                (path, timeout, dags_folder, self.after_fork),
                name="tradewind-dag-file-trial",
                timeout=timeout,
            )
        # Reaped under the lock a child subreaper's look at its children takes: a child reaped
        # beside that look can hide another from it (``thread_guard.stop_adopted``).
        ended = child.wait(looking=pipes_held)
        if ended.payload is None:
            return lost_import_error(path, timed_out=ended.timed_out, timeout=timeout, exit_code=ended.exit_code)
        error = ended.payload.get("error")
        return str(error) if error else None


def _content_hash(path: str) -> str:
    try:
        return file_hash(path)
    except OSError as exc:
        raise DagFileImportError(f"cannot read DAG file {path}: {exc.strerror}") from None


def _dag_of(entry: _Entry, path: str, dag_id: str) -> DAG:
    if entry.error is not None:
        raise DagFileImportError(entry.error)
    try:
        return entry.dags[dag_id]
    except KeyError:
        raise DagNotFound(f"DAG {dag_id!r} is not defined in {path}") from None


def _trial_import_main(
    path: str, timeout: float, dags_folder: str | None, after_fork: Callable[[], None] | None, conn: Connection
) -> None:
    """In the child: import the file under the time limit and send back its error (or none)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        if after_fork is not None:
            after_fork()
        error = load_dag_file(path, timeout=timeout, dags_folder=dags_folder).error
    except BaseException as exc:  # noqa: BLE001 - anything at all becomes this file's import error
        error = f"{path}: {type(exc).__name__}: {exc}"
    conn.send_bytes(json.dumps({"error": error}).encode())
    conn.close()
