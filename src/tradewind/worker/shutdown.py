"""How far the worker's shutdown has gone, for its slots' threads to read.

- ``SHUTTING_DOWN``: a warm or cold shutdown began (SIGTERM, Ctrl+C, SIGQUIT). A slot finishes
  the try it runs but claims no further task of that run for itself: the follow-up sends every
  task it queues through the broker, to another worker (or this one once it is back).
- ``COLD``: a cold shutdown (SIGQUIT, a second Ctrl+C). Each running try is killed at once and
  written as failed or up for retry, with the reason (``supervisor.py``), and a message a slot
  takes now starts nothing: its task instance stays queued and the scheduler sends it again.
"""

from __future__ import annotations

import threading
from typing import Any

SHUTTING_DOWN = threading.Event()
COLD = threading.Event()
#: What the log of a try killed by a cold shutdown says.
COLD_REASON = "the worker was shut down cold (SIGQUIT or a second Ctrl+C); the try was killed"


def begin(*, cold: bool) -> None:
    SHUTTING_DOWN.set()
    if cold:
        COLD.set()


def connect_signals() -> None:
    """Follow Celery's ``worker_shutting_down``, sent when a shutdown signal arrives."""
    from celery.signals import worker_shutting_down  # type: ignore[import-untyped]

    def on_shutting_down(sender: Any = None, how: str = "", **kwargs: Any) -> None:
        begin(cold=how == "Cold")

    worker_shutting_down.connect(on_shutting_down, weak=False)
