"""DAG-level callbacks, run by the scheduler that ended the run, each in a forked child process —
and the failure / retry callbacks of tasks whose try's process died (zombies), which the scheduler
that found the zombie runs the same way.

The scheduler hands over the run ends its run-progress transaction committed (only that scheduler
ended those runs, under their row locks, so each end is handed over once), and the zombies its
liveness transaction ended (each by compare-and-set on its try). ``launch`` forks a child
per end (``dag_callback_process``) and returns at once; ``poll`` collects finished children, kills
those past the time limit, and logs how each went. A callback that raises, hangs or crashes the
child is logged and changes nothing else; the scheduler never waits for one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from tradewind.decisions.run_ends import RunEnd, ZombieEnd
from tradewind.master.scheduler.dag_callback_process import CallbackResult, child_main
from tradewind.settings import Settings
from tradewind.timed_child import TimedChild

#: What a child runs the callbacks of: a run's end, or a zombie's try.
Ending = RunEnd | ZombieEnd

logger = logging.getLogger(__name__)

#: Run ends whose callbacks wait for a free child slot, at most (older ones are dropped, logged).
MAX_WAITING = 10_000


@dataclass
class _Child:
    end: Ending
    process: TimedChild


@dataclass
class CallbackReport:
    """What ``poll`` found: (run end, result) of each child that finished or was stopped."""

    finished: list[tuple[Ending, CallbackResult]] = field(default_factory=list)


class DagCallbackRunner:
    def __init__(self, settings: Settings, *, processes: int = 2) -> None:
        self.settings = settings
        self.processes = processes
        self.timeout = float(settings.dag_callback_timeout)
        self._children: list[_Child] = []
        self._waiting: list[Ending] = []

    @property
    def busy(self) -> bool:
        return bool(self._children or self._waiting)

    def launch(self, ends: Iterable[Ending]) -> None:
        """Start the callbacks of ``ends`` (queued while ``processes`` children are running)."""
        for end in ends:
            if len(self._waiting) >= MAX_WAITING:
                logger.error(
                    "too many DAG callbacks waiting; the %s of run %s of %s is dropped",
                    end.callback_name,
                    end.run_id,
                    end.dag_id,
                )
                continue
            self._waiting.append(end)
        self._start_waiting()

    def poll(self) -> CallbackReport:
        report = CallbackReport()
        for child in list(self._children):
            result = self._collect(child)
            if result is None:
                continue
            self._children.remove(child)
            report.finished.append((child.end, result))
            _log(child.end, result)
        self._start_waiting()
        return report

    def close(self) -> None:
        """Kill the children still running (the scheduler is stopping)."""
        for child in self._children:
            child.process.stop()
            logger.warning(
                "the %s of run %s of %s was stopped: the scheduler is stopping",
                child.end.callback_name,
                child.end.run_id,
                child.end.dag_id,
            )
        self._children.clear()
        self._waiting.clear()

    def _start_waiting(self) -> None:
        while self._waiting and len(self._children) < self.processes:
            end = self._waiting.pop(0)
            try:
                self._children.append(self._start(end))
            except OSError:
                logger.exception(
                    "could not start a process for the %s of run %s of %s", end.callback_name, end.run_id, end.dag_id
                )

    def _start(self, end: Ending) -> _Child:
        child = TimedChild.start(
            child_main,
            (end, self.settings, self.timeout),
            name=f"tradewind-dag-callback-{end.dag_id}",
            timeout=self.timeout,
        )
        logger.info(
            "running the %s of run %s of %s (%s) in process %s",
            end.callback_name,
            end.run_id,
            end.dag_id,
            end.reason,
            child.pid,
        )
        return _Child(end=end, process=child)

    def _collect(self, child: _Child) -> CallbackResult | None:
        ended = child.process.collect()
        if ended is None:
            return None
        if ended.timed_out:
            return CallbackResult("timeout", f"killed after {self.timeout:g} s (dag_callback_timeout)")
        if ended.payload is not None:
            try:
                return CallbackResult(**ended.payload)
            except TypeError:
                pass
        return CallbackResult("error", f"the callback's process died (exit code {ended.exit_code})")


def _log(end: Ending, result: CallbackResult) -> None:
    task = f"task {end.task_id} (try {end.try_number}) in " if isinstance(end, ZombieEnd) else ""
    what = f"the {end.callback_name} of {task}run {end.run_id} of {end.dag_id}"
    if result.outcome in ("success", "skipped"):
        logger.info("%s: %s%s", what, result.outcome, f" ({result.message})" if result.message else "")
    else:
        logger.error("%s failed (%s): %s", what, result.outcome, result.message)
