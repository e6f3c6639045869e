"""The Celery executor: publishes task-instance messages by task name, never blocking the scheduler.

It only calls ``app.send_task(RUN_TASK_INSTANCE, args=[message.encode()], queue=…)``; the worker
registers that task, so the master never imports worker code. Publishing happens on one daemon
thread: kombu retries a failed publish a few times with a short backoff, and the caller waits at
most ``publish_timeout`` for each message. A dead or hanging broker therefore costs the loop about
one timeout, after which the rest of the batch is reported unsent at once (the broker is evidently
down); their task instances stay queued and the scheduler's queued-timeout duty sends them again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from tradewind.master.executor.base import QueueItem
from tradewind.queue.messages import RUN_TASK_INSTANCE, TaskMessage

logger = logging.getLogger(__name__)

_Job = tuple[TaskMessage, str, "Future[None]"]


class CeleryExecutor:
    def __init__(
        self, app: Any, *, publish_timeout: float = 2.0, max_retries: int = 3, retry_interval: float = 0.2
    ) -> None:
        self.app = app
        self.publish_timeout = publish_timeout
        self.retry_policy = {
            "max_retries": max_retries,
            "interval_start": 0.0,
            "interval_step": retry_interval,
            "interval_max": retry_interval * 4,
        }
        self._jobs: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stuck: Future[None] | None = None
        self._lock = threading.Lock()

    def send(self, items: Sequence[QueueItem]) -> list[TaskMessage]:
        if not items:
            return []
        if self._stuck is not None and not self._stuck.done():
            logger.warning(
                "the broker is not answering (a publish is still hanging); %d message(s) not sent", len(items)
            )
            return [message for message, _ in items]
        self._ensure_thread()
        jobs: list[_Job] = [(message, queue_name, Future()) for message, queue_name in items]
        self._jobs.put(jobs)
        for index, (_, _, future) in enumerate(jobs):
            try:
                future.result(timeout=self.publish_timeout)
            except TimeoutError:
                self._stuck = future
                return self._give_up(jobs, index, f"no answer within {self.publish_timeout:g} s")
            except Exception as exc:  # noqa: BLE001 - any broker error: the task instance stays queued
                return self._give_up(jobs, index, str(exc) or type(exc).__name__)
        return []

    def _give_up(self, jobs: list[_Job], index: int, reason: str) -> list[TaskMessage]:
        for _, _, future in jobs[index + 1 :]:
            future.cancel()
        failed = [message for message, _, _ in jobs[index:]]
        logger.warning(
            "cannot publish to the broker (%s); %d message(s) stay queued and are sent again after the queued timeout",
            reason,
            len(failed),
        )
        return failed

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                # A daemon: a publish hanging in a dead socket must not keep the process from exiting.
                self._thread = threading.Thread(target=self._publish_loop, name="tradewind-publisher", daemon=True)
                self._thread.start()

    def _publish_loop(self) -> None:
        while True:
            jobs = self._jobs.get()
            if jobs is None:
                return
            for message, queue_name, future in jobs:
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    self.app.send_task(
                        RUN_TASK_INSTANCE,
                        args=[message.encode()],
                        queue=queue_name,
                        retry=True,
                        retry_policy=self.retry_policy,
                    )
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                    future.set_exception(exc)
                else:
                    future.set_result(None)

    def close(self) -> None:
        self._jobs.put(None)
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=self.publish_timeout)
