"""On SQLite only one scheduler may run: an OS file lock under the home folder makes sure of it.

SQLite has no row locks to share runs between schedulers, so a second scheduler is refused at
start, naming the process that holds the lock. ``flock`` is released by the kernel when the holder
exits in any way (even SIGKILL), so a crashed scheduler never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from tradewind.errors import TradewindException
from tradewind.settings import Settings

LOCK_FILE = "scheduler.lock"


class SchedulerAlreadyRunning(TradewindException):
    """Another scheduler holds the SQLite metastore's scheduler lock."""


class SchedulerLock:
    def __init__(self, settings: Settings) -> None:
        self.path = Path(settings.home) / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ``SchedulerAlreadyRunning`` naming its holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for as long as the lock is held
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SchedulerAlreadyRunning(
                f"a scheduler is already running on this SQLite metastore ({holder}, lock {self.path}); "
                "only one may run on SQLite — use PostgreSQL to run several"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> SchedulerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
