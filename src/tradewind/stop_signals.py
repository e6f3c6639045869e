"""How a long-running role stops: the first SIGTERM or SIGINT sets its stop event (it ends its
current round and cleans up), a second one stops the process at once. Shared by the scheduler and
the triggerer, which otherwise never import each other."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

logger = logging.getLogger(__name__)


def stop_on_signals(stop: threading.Event, role: str) -> None:
    """Set ``stop`` on SIGTERM or SIGINT (from the main thread only; elsewhere signals are not ours)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handle(signum: int, frame: Any) -> None:
        logger.info("%s received %s; stopping after this round", role, signal.Signals(signum).name)
        stop.set()
        # A second signal stops at once.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
