"""A time limit on a block of code in the main thread, by SIGALRM: the DAG-file import limit and a
task's ``execution_timeout`` both use it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def time_limit(seconds: float | None, make_error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``make_error()`` inside the block once it has run ``seconds``; no limit for None or 0,
    or outside the main thread (signals reach only the main thread)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise make_error()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
