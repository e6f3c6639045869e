"""The Celery task ``RUN_TASK_INSTANCE``: decode the message, hand it to ``service.handle_message``.

Thin on purpose: everything that can be tested without Celery lives in ``service``. A message
that cannot be decoded is logged and dropped, never retried: retrying cannot make it readable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import Celery  # type: ignore[import-untyped]

from tradewind.queue.messages import RUN_TASK_INSTANCE, MessageError, QueueItem, TaskMessage
from tradewind.settings import Settings
from tradewind.worker.fork_server import ForkServer
from tradewind.worker.runner import default_hostname
from tradewind.worker.service import ProcessServices, handle_message

logger = logging.getLogger(__name__)


def decode_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> TaskMessage:
    """The ``TaskMessage`` of a task call: exactly one positional argument, the encoded message."""
    if len(args) != 1 or kwargs:
        raise MessageError(f"a task message is one JSON object argument, got {len(args)} args, {sorted(kwargs)} kwargs")
    return TaskMessage.decode(args[0])


def register(
    app: Celery,
    settings: Settings,
    *,
    hostname: str | None = None,
    queues: Sequence[str] = ("default",),
    concurrency: int | None = None,
    fork_server: ForkServer | None = None,
) -> Any:
    """Register ``RUN_TASK_INSTANCE`` on ``app``; its services are shared by the pool's threads, and
    its tries' processes forked from ``fork_server`` (None: from the worker itself)."""

    def send(items: Sequence[QueueItem]) -> None:
        for message, queue in items:
            app.send_task(RUN_TASK_INSTANCE, args=[message.encode()], queue=queue)

    services = ProcessServices(
        settings,
        hostname or default_hostname(),
        queues=queues,
        sender=send,
        concurrency=concurrency,
        fork_server=fork_server,
    )
    services.connect_signals()

    # *args/**kwargs: a message of the wrong shape must reach our decoder, not fail in Celery's call.
    @app.task(name=RUN_TASK_INSTANCE, bind=False, acks_late=True, ignore_result=True)
    def run_task_instance_message(*args: Any, **kwargs: Any) -> None:
        try:
            message = decode_args(args, kwargs)
        except MessageError as exc:
            logger.error("dropping a task message that cannot be decoded: %s", exc)
            return
        try:
            handle_message(message, services.get())
        except Exception:  # noqa: BLE001 - the message is acked either way; the metastore decides
            # What was claimed is left running (zombie detection ends it); what was not stays
            # queued (the scheduler sends it again). A Celery retry would only duplicate that.
            logger.exception("%s: the worker failed to handle the message", message.describe())

    return run_task_instance_message
