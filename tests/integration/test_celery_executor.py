"""The Celery executor publishes to the real Redis, and never holds up the scheduler when Redis is
dead or hangs: the messages come back unsent within the publish timeout."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator

import pytest
import redis

from tradewind.master.executor.celery_executor import CeleryExecutor
from tradewind.queue.app import make_celery_app
from tradewind.queue.messages import RUN_TASK_INSTANCE, TaskMessage
from tradewind.settings import Settings

pytestmark = pytest.mark.integration

MESSAGES = [TaskMessage("etl", "manual__1", "extract", -1, 1), TaskMessage("etl", "manual__1", "load", -1, 2)]


def _executor(tmp_path, broker_url: str, **options: float) -> CeleryExecutor:  # type: ignore[no-untyped-def]
    return CeleryExecutor(make_celery_app(Settings(home=tmp_path, broker_url=broker_url)), **options)


def test_messages_land_on_their_task_queues_in_redis(tmp_path, redis_url: str):  # type: ignore[no-untyped-def]
    executor = _executor(tmp_path, redis_url)
    try:
        assert executor.send([(MESSAGES[0], "default"), (MESSAGES[1], "special")]) == []
    finally:
        executor.close()
    client = redis.Redis.from_url(redis_url)
    try:
        for queue, expected in (("default", MESSAGES[0]), ("special", MESSAGES[1])):
            (raw,) = client.lrange(queue, 0, -1)
            envelope = json.loads(raw)
            assert envelope["headers"]["task"] == RUN_TASK_INSTANCE
            args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
            assert TaskMessage.decode(args[0]) == expected
    finally:
        client.close()


def test_a_dead_redis_makes_send_return_every_message_quickly(tmp_path):  # type: ignore[no-untyped-def]
    executor = _executor(tmp_path, "redis://127.0.0.1:1/0", publish_timeout=3.0, retry_interval=0.05)
    try:
        started = time.monotonic()
        assert executor.send([(m, "default") for m in MESSAGES]) == MESSAGES
        assert time.monotonic() - started < 3.0
    finally:
        executor.close()


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A TCP port that accepts connections and never answers (a hung Redis)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server
    server.close()


def test_a_hanging_redis_costs_one_publish_timeout_and_then_nothing(tmp_path, silent_server):  # type: ignore[no-untyped-def]
    port = silent_server.getsockname()[1]
    executor = _executor(tmp_path, f"redis://127.0.0.1:{port}/0", publish_timeout=0.5)
    try:
        started = time.monotonic()
        assert executor.send([(m, "default") for m in MESSAGES]) == MESSAGES
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
        assert executor.send([(MESSAGES[0], "default")]) == [MESSAGES[0]], "still hanging: refused at once"
        assert time.monotonic() - started < 0.1
    finally:
        silent_server.close()  # the hung publish fails, and the publisher thread is free to stop
        executor.close()
    assert executor._thread is not None
    executor._thread.join(timeout=10)
    assert not executor._thread.is_alive()
