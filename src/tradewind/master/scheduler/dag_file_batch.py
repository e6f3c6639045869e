"""Importing a batch of DAG files in one forked child, which sends back each file's result as soon
as that file is done, so the scheduler stores results while the child goes on.

Each file keeps its own time limit (``dagbag_import_timeout``): the child's alarm turns a slow
import into that file's error and the child goes on; should the alarm fail, the parent kills the
child once a file has taken the limit and a grace. The results come in the batch's order, so when
the child dies (a file calling ``os._exit``, a segfault) or is killed, the first file without a
result is the one that did it: it becomes that file's import error, and the rest of the batch is
handed back to be imported by a fresh child.

Files share the child's interpreter, so each file's import leaves it as it found it
(``_isolated``): the working directory and ``sys.path`` are put back, and the modules the import
loaded from the DAG folder are forgotten, so a ``common.py`` in one subfolder never stands in for
another subfolder's ``common.py``.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import time
import zlib
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from tradewind.master.scheduler.dag_file_child import parsed_file
from tradewind.master.scheduler.dag_processor import ParsedFile
from tradewind.sdk.dag_folder import FoundFile
from tradewind.settings import Settings
from tradewind.timed_child import KILL_GRACE_S, ChildEnd, TimedChild

#: The pipe a child writes its results to holds this much (Linux's default limit for a process
#: without privileges). With each result compressed (a DAG of 10 tasks: 12 KB of JSON, 1.2 KB
#: sent) it holds hundreds of files, so a child does not wait for a scheduler's loop that is busy
#: with other duties for a second (creating the runs of a thousand new DAGs, say).
PIPE_BYTES = 1 << 20


@dataclass
class BatchProgress:
    """What one look at a batch found: the files it finished since (with what they defined), and,
    once the child has ended, the files it never got to (to import again)."""

    done: list[tuple[FoundFile, ParsedFile]] = field(default_factory=list)
    ended: bool = False
    rest: list[FoundFile] = field(default_factory=list)


@dataclass
class BatchImport:
    """One child importing ``pending`` files in order; those it has reported leave ``pending``."""

    child: TimedChild
    pending: deque[FoundFile]

    @classmethod
    def start(cls, items: list[FoundFile], settings: Settings) -> BatchImport:
        timeout = float(settings.dagbag_import_timeout)
        child = TimedChild.start(
            _batch_main,
            ([item.path for item in items], timeout, str(settings.resolved_dags_folder)),
            name=f"tradewind-dag-files-{len(items)}",
            timeout=timeout,
        )
        try:
            fcntl.fcntl(child.conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except (AttributeError, OSError):
            pass  # not Linux, or a lower limit: the child waits for the reader a little more often
        return cls(child=child, pending=deque(items))

    def collect(self) -> BatchProgress:
        """The results sent since the last look, without blocking; ends the child when it is done,
        died, or ran past a file's time limit."""
        progress = BatchProgress()
        while self.pending:
            try:
                if not self.child.conn.poll():
                    break
                data = self.child.conn.recv_bytes()
            except (EOFError, OSError):
                return self._ended(progress, ChildEnd(None, exit_code=self.child.stop()))
            item = self.pending.popleft()
            progress.done.append((item, _decode(item, data, self.child)))
            self.child.deadline = time.monotonic() + self.child.timeout + KILL_GRACE_S
        if not self.pending:
            self.child.stop()
            progress.ended = True
        elif time.monotonic() > self.child.deadline:
            self.child.stop()
            return self._ended(progress, ChildEnd(None, timed_out=True))
        return progress

    def stop(self) -> None:
        self.child.stop()

    def _ended(self, progress: BatchProgress, end: ChildEnd) -> BatchProgress:
        culprit = self.pending.popleft()
        progress.done.append((culprit, parsed_file(Path(culprit.path), self.child, end)))
        progress.ended = True
        progress.rest = list(self.pending)
        self.pending.clear()
        return progress


def _decode(item: FoundFile, data: bytes, child: TimedChild) -> ParsedFile:
    try:
        payload = json.loads(zlib.decompress(data))
    except (ValueError, zlib.error):
        payload = None
    return parsed_file(Path(item.path), child, ChildEnd(payload if isinstance(payload, dict) else None))


def _batch_main(paths: list[str], timeout: float, dags_folder: str, conn: Connection) -> None:
    """In the child: import each file in turn, send back its serialized DAGs or error as JSON
    (compressed: the pipe then holds ten times as many results)."""
    # The parent's own handlers (stop the scheduler's loop) must not keep a child alive that is told to stop.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _load_shared_modules()
    for path in paths:
        try:
            with _isolated(dags_folder):
                payload = _import_one(path, timeout, dags_folder)
        except BaseException as exc:  # noqa: BLE001 - anything at all becomes this file's import error
            payload = json.dumps(
                {"path": path, "dags": [], "error": f"{path}: {type(exc).__name__}: {exc}", "traceback": None}
            )
        conn.send_bytes(zlib.compress(payload.encode(), 1))
    conn.close()


def _import_one(path: str, timeout: float, dags_folder: str) -> str:
    """The file's result as JSON: its DAGs serialized (before its modules are forgotten), or its error."""
    from tradewind.sdk.dag_file import load_dag_file

    parsed = ParsedFile.from_result(load_dag_file(path, timeout=timeout, dags_folder=dags_folder))
    return json.dumps(
        {"path": parsed.path, "dags": parsed.dags, "error": parsed.error, "traceback": parsed.traceback},
        default=str,
    )


def _load_shared_modules() -> None:
    """What every file's import shares (the Airflow shim, the plugins), loaded before the first file,
    so none of it counts as that file's own."""
    try:
        from tradewind.compat import airflow_shim
        from tradewind.sdk import plugins

        airflow_shim.install()
        plugins.ensure_loaded()
    except Exception:  # noqa: BLE001, S110 - the first file's import meets the same error and reports it
        pass


@contextmanager
def _isolated(dags_folder: str) -> Iterator[None]:
    """Put back what one file's import changed in the shared interpreter: the working directory,
    ``sys.path``, and the modules it loaded from the DAG folder (forgotten, so the next file imports
    its own helpers)."""
    cwd = os.getcwd()
    path = list(sys.path)
    before = set(sys.modules)
    try:
        yield
    finally:
        try:
            os.chdir(cwd)
        except OSError:
            pass  # the directory is gone: the next file runs wherever this one left it
        sys.path[:] = path
        for name in _loaded_from(dags_folder, set(sys.modules) - before):
            sys.modules.pop(name, None)


def _loaded_from(folder: str, names: set[str]) -> list[str]:
    """The modules among ``names`` whose file lies inside ``folder``."""
    root = os.path.join(os.path.realpath(folder), "")
    found = []
    for name in names:
        module_file = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(module_file, str) and os.path.realpath(module_file).startswith(root):
            found.append(name)
    return found
