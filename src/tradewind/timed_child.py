"""A forked child process with a time limit that sends its parent one JSON object, and how the
parent collects it without ever blocking: the result, or word that the child died or ran out of
time (then it is killed). The DAG-file parser and the DAG-callback runner both run user code
this way, so the scheduler's loop never waits on it; a CLI command that has nothing else to do,
or a worker's slot trying a DAG file's first import, ``wait``s for its child instead."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

#: Extra seconds a child gets past its time limit before the parent kills it; the child's own
#: alarm should have ended it first.
KILL_GRACE_S = 2.0

_FORK = multiprocessing.get_context("fork")


@dataclass(frozen=True)
class ChildEnd:
    """How a child ended: ``payload`` is what it sent; None when it died first (``exit_code``)
    or was killed past its time limit (``timed_out``)."""

    payload: dict[str, Any] | None
    exit_code: int | None = None
    timed_out: bool = False


@dataclass
class TimedChild:
    """One running child and the read end of its pipe."""

    process: Any
    pid: int
    conn: Connection
    timeout: float
    deadline: float

    @classmethod
    def start(cls, target: Callable[..., None], args: tuple[Any, ...], *, name: str, timeout: float) -> TimedChild:
        """Fork a child running ``target(*args, conn)``; it must send one JSON object with
        ``conn.send_bytes`` and close it."""
        reader, writer = _FORK.Pipe(duplex=False)
        process = _FORK.Process(target=target, args=(*args, writer), name=name, daemon=True)
        process.start()
        writer.close()
        assert process.pid is not None  # started
        return cls(
            process=process,
            pid=process.pid,
            conn=reader,
            timeout=timeout,
            deadline=time.monotonic() + timeout + KILL_GRACE_S,
        )

    def collect(self) -> ChildEnd | None:
        """How the child ended, once it has (it is then stopped and reaped); None while it runs."""
        if self.conn.poll():
            try:
                payload = json.loads(self.conn.recv_bytes())
                if not isinstance(payload, dict):
                    raise ValueError("not a JSON object")
            except (EOFError, OSError, ValueError):
                return ChildEnd(None, exit_code=self.stop())
            self.stop()
            return ChildEnd(payload)
        if time.monotonic() > self.deadline:
            self.stop()
            return ChildEnd(None, timed_out=True)
        return None

    def wait(self, looking: Callable[[], AbstractContextManager[Any]] = nullcontext) -> ChildEnd:
        """Block until the child has ended, at most its time limit and the grace (for a caller
        with nothing else to do meanwhile, such as a CLI command). Each look, which reaps the child
        once it ended, is made inside ``looking()``."""
        while True:
            with looking():
                ended = self.collect()
            if ended is not None:
                return ended
            self.conn.poll(max(0.0, min(0.5, self.deadline - time.monotonic())))

    def stop(self) -> int | None:
        """Kill the child if it still runs, and reap it; its exit code (negative: the signal)."""
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        exit_code = self.process.exitcode
        try:
            self.process.close()
        except ValueError:
            pass  # still running after SIGKILL and 5 s: leave it to the OS
        return exit_code
