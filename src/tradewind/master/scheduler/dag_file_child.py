"""Importing one DAG file in a forked child with a time limit, so user code never runs in the
process that asked: the child sends back the file's serialized DAGs or its error as JSON, and a
child that died (a file calling ``os._exit``, a segfault) or ran past ``dagbag_import_timeout``
(then it is killed) becomes that file's import error.

A CLI command waits for one at a time (``load_in_child``, a ``FileLoader`` for ``sync_dag_folder``);
the scheduler imports files in batches (``dag_file_batch.py``), whose errors are worded here too
(``parsed_file``).
"""

from __future__ import annotations

import json
import signal
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path

from tradewind.master.scheduler.dag_processor import ParsedFile
from tradewind.sdk.dag_file import lost_import_error
from tradewind.settings import Settings
from tradewind.timed_child import ChildEnd, TimedChild


def start_import(path: Path, settings: Settings) -> TimedChild:
    """Fork the child importing ``path``; collect it with ``parsed_file``."""
    timeout = float(settings.dagbag_import_timeout)
    return TimedChild.start(
        _child_main,
        (str(path), timeout, str(settings.resolved_dags_folder)),
        name=f"tradewind-dag-file-{path.name}",
        timeout=timeout,
    )


def parsed_file(path: Path, child: TimedChild, ended: ChildEnd) -> ParsedFile:
    """What the ended child found: its answer, or the error of a child that died or ran out of time."""
    if ended.payload is not None:
        try:
            return ParsedFile(**ended.payload)
        except TypeError:
            pass
    error = lost_import_error(path, timed_out=ended.timed_out, timeout=child.timeout, exit_code=ended.exit_code)
    return ParsedFile(path=str(path), error=error)


def load_in_child(path: Path, settings: Settings) -> ParsedFile:
    """Import ``path`` in a child and wait for what it found (at most the import timeout and a grace)."""
    child = start_import(path, settings)
    return parsed_file(path, child, child.wait())


def _child_main(path: str, timeout: float, dags_folder: str, conn: Connection) -> None:
    """In the child: import the file, send back its serialized DAGs or error as JSON, exit."""
    # The parent's own handlers (stop the scheduler's loop) must not keep a child alive that is told to stop.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        from tradewind.sdk.dag_file import load_dag_file

        result = load_dag_file(path, timeout=timeout, dags_folder=dags_folder)
        parsed = ParsedFile.from_result(result)
        payload = json.dumps(asdict(parsed), default=str)
    except BaseException as exc:  # noqa: BLE001 - anything at all becomes this file's import error
        payload = json.dumps(
            {"path": path, "dags": [], "error": f"{path}: {type(exc).__name__}: {exc}", "traceback": None}
        )
    conn.send_bytes(payload.encode())
    conn.close()
