"""A running try's link to the metastore: heartbeats and log flushes on a thread of their own.

The supervisor (``supervisor.py``) reads the task's pipes and decides when to stop the try; it must
never wait on the metastore, because a worker cut off from its metastore has to notice and stop
its tries itself (self-fencing) before the scheduler declares them zombies and retries them
elsewhere. So every metastore write of a running try happens here, and the supervisor only reads
``standing`` (is the try still running, changed from outside, or lost) and ``last_ok`` (when a
heartbeat last got through).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from tradewind.worker.reporting import Reporter, Standing

logger = logging.getLogger(__name__)

#: Seconds before a failed heartbeat is tried again (a healthy one waits the heartbeat interval).
RETRY_S = 1.0
#: Longest the supervisor waits for the log to drain when the task prints faster than it is written.
BACKPRESSURE_S = 0.5


class TryHeartbeat:
    def __init__(self, reporter: Reporter, *, heartbeat_interval: float, flush_interval: float, last_ok: float) -> None:
        self.reporter = reporter
        self.heartbeat_interval = heartbeat_interval
        self.flush_interval = flush_interval
        #: Monotonic time of the last heartbeat that reached the metastore (the one just before the
        #: task process started, to begin with).
        self.last_ok = last_ok
        self.standing = Standing.RUNNING
        #: Log text held before a flush is due at once; twice this and the supervisor waits, briefly.
        self.flush_bytes = max(reporter.log_max_bytes, 64 * 1024)
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._dropped = 0
        self._rendered: dict[str, Any] | None = None
        self._rendered_written = False
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tradewind-try-heartbeat", daemon=True)
        self._failures = 0

    def start(self) -> None:
        self._thread.start()

    def add_log(self, text: str) -> None:
        """Queue log text for the next flush. A task printing faster than the metastore takes its log
        is slowed down (the supervisor stops reading its pipe for a moment); while the metastore does
        not answer at all, what exceeds twice the log cap is dropped from the middle, and said so."""
        with self._lock:
            self._pending.append(text)
            self._pending_bytes += len(text)
            if self._pending_bytes >= self.flush_bytes:
                self._wake.set()
            if self._pending_bytes >= 2 * self.flush_bytes:
                self._drained.wait_for(lambda: self._pending_bytes < 2 * self.flush_bytes, BACKPRESSURE_S)
            while self._pending_bytes >= 2 * self.flush_bytes and len(self._pending) > 1:
                dropped = self._pending.pop(len(self._pending) // 2)
                self._pending_bytes -= len(dropped)
                self._dropped += len(dropped)

    def set_rendered(self, rendered: dict[str, Any]) -> None:
        with self._lock:
            if not self._rendered_written:
                self._rendered = rendered

    def silent_for(self, now: float) -> float:
        """Seconds since a heartbeat last reached the metastore."""
        return now - self.last_ok

    def stop(self, timeout: float) -> tuple[str, dict[str, Any] | None]:
        """Stop the thread; returns the log text and rendered fields it has not written yet."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        with self._lock:
            return self._take()

    def _take(self) -> tuple[str, dict[str, Any] | None]:
        text = "".join(self._pending)
        if self._dropped:
            text = f"[… {self._dropped} bytes of this log were dropped while the metastore did not take it …]\n" + text
        self._pending, self._pending_bytes, self._dropped = [], 0, 0
        self._drained.notify_all()
        rendered, self._rendered = self._rendered, None
        return text, rendered

    def _run(self) -> None:
        next_beat = self.last_ok + self.heartbeat_interval
        while True:
            self._wake.wait(min(self.flush_interval, max(0.0, next_beat - time.monotonic())))
            self._wake.clear()
            if self._stop.is_set():
                return
            # The heartbeat first: a long flush (a backlog after a blip) must not make it late.
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + (self.heartbeat_interval if self._beat() else RETRY_S)
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            text, rendered = self._take()
        if not text and rendered is None:
            return
        try:
            written = self.reporter.flush(log_text=text, rendered=rendered)
        except Exception as exc:  # noqa: BLE001 - the metastore is away: keep the text for the next flush
            with self._lock:
                self._pending.insert(0, text)
                self._pending_bytes += len(text)
                if rendered is not None and self._rendered is None:
                    self._rendered = rendered
            self._warn("log flush", exc)
            return
        if rendered is not None and written:
            with self._lock:
                self._rendered_written = True

    def _beat(self) -> bool:
        try:
            standing = self.reporter.heartbeat()
        except Exception as exc:  # noqa: BLE001 - the supervisor fences the try if this goes on
            self._warn("heartbeat", exc)
            return False
        self.last_ok = time.monotonic()
        self.standing = standing
        if self._failures:
            logger.info("%s try %s: the metastore answers again", self.reporter.key, self.reporter.try_number)
        self._failures = 0
        return True

    def _warn(self, what: str, exc: BaseException) -> None:
        self._failures += 1
        if self._failures == 1:
            logger.warning(
                "%s try %s: %s failed (%s); trying again every %g s",
                self.reporter.key,
                self.reporter.try_number,
                what,
                str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__,
                RETRY_S,
            )
