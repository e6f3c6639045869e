"""The worker's Celery pool: Celery's ``threads`` pool, plus what a cold shutdown asks of a pool.

On a cold shutdown (SIGQUIT, a second Ctrl+C) Celery cancels each running task through its pool
(``terminate_job``; ``terminate`` on the task's result, should that still be referenced); the
plain ``threads`` pool cannot stop a thread and raises, which would leave the worker waiting for
every running try. Here a cancel marks the shutdown cold (``shutdown.py``): each slot's supervisor
then kills its try's processes at once and writes the try's end, so the slot's thread returns
and the worker exits.
"""

from __future__ import annotations

from typing import Any

from celery.concurrency.thread import ApplyResult  # type: ignore[import-untyped]
from celery.concurrency.thread import TaskPool as CeleryThreadPool

from tradewind.worker import shutdown


class _Result(ApplyResult):  # type: ignore[misc]
    def terminate(self, signal: Any = None) -> None:
        shutdown.begin(cold=True)


class ThreadPool(CeleryThreadPool):  # type: ignore[misc]
    def on_apply(self, *args: Any, **kwargs: Any) -> _Result:
        result = super().on_apply(*args, **kwargs)
        return _Result(result.f)

    def terminate_job(self, pid: Any, signal: Any = None) -> None:
        shutdown.begin(cold=True)
