"""The Celery app's delivery settings, the embedded broker and the queue helpers — no sockets."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from tradewind.queue.app import (
    DEFAULT_QUEUE,
    EMBEDDED_BROKER_URL,
    REDIS_TRANSPORT,
    broker_url_for,
    make_celery_app,
)
from tradewind.queue.messages import RUN_TASK_INSTANCE
from tradewind.queue.names import queue_names
from tradewind.settings import Settings

REDIS = "redis://:secret@redis.example:6379/0"


def test_delivery_settings_never_lose_a_task_nor_run_a_try_twice(tmp_path: Path):
    conf = make_celery_app(Settings(home=tmp_path, broker_url=REDIS)).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is False
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_ignore_result is True
    assert conf.result_backend is None
    assert conf.task_default_queue == DEFAULT_QUEUE
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is False
    assert conf.broker_connection_retry_on_startup is True


def test_redis_transport_has_timeouts_keepalive_and_a_visibility_timeout(tmp_path: Path):
    conf = make_celery_app(Settings(home=tmp_path, broker_url=REDIS)).conf
    options = conf.broker_transport_options
    assert conf.broker_url == REDIS
    assert options["socket_timeout"] > 0
    assert options["socket_connect_timeout"] > 0
    assert options["socket_keepalive"] is True
    assert options["health_check_interval"] > 0
    assert options["visibility_timeout"] >= 60
    assert not (tmp_path / "broker").exists()


def test_worker_app_retries_the_broker_connection_forever(tmp_path: Path):
    settings = Settings(home=tmp_path, broker_url=REDIS)
    assert make_celery_app(settings, worker=True).conf.broker_connection_max_retries is None
    assert make_celery_app(settings).conf.broker_connection_max_retries is not None


def test_no_task_is_registered_by_the_shared_app(tmp_path: Path):
    app = make_celery_app(Settings(home=tmp_path, broker_url=REDIS))
    assert RUN_TASK_INSTANCE not in app.tasks


def test_embedded_broker_folders_are_created_under_home(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    conf = make_celery_app(settings).conf
    options = conf.broker_transport_options
    assert broker_url_for(settings) == EMBEDDED_BROKER_URL == conf.broker_url
    broker = tmp_path / "home" / "broker"
    assert options["data_folder_in"] == options["data_folder_out"]
    for name in ("data_folder_in", "processed_folder", "control_folder"):
        folder = Path(options[name])
        assert folder.is_dir()
        assert folder.parent == broker
    assert options["polling_interval"] <= 0.1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ["default"]),
        ("", ["default"]),
        (" , ", ["default"]),
        ("q2", ["q2"]),
        ("a, b,,a", ["a", "b"]),
    ],
)
def test_queue_names(value, expected):
    assert queue_names(value) == expected


def test_a_redis_broker_uses_the_transport_whose_acks_cannot_wedge_a_worker(tmp_path: Path):
    conf = make_celery_app(Settings(home=tmp_path, broker_url=REDIS)).conf
    assert conf.broker_transport == REDIS_TRANSPORT
    embedded = make_celery_app(Settings(home=tmp_path)).conf
    assert embedded.broker_transport is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ssl.CERT_REQUIRED),
        ("?ssl_cert_reqs=none", ssl.CERT_NONE),
        ("?ssl_cert_reqs=CERT_OPTIONAL", ssl.CERT_OPTIONAL),
        ("?ssl_cert_reqs=nonsense", ssl.CERT_REQUIRED),
    ],
)
def test_a_tls_redis_broker_checks_the_servers_certificate_unless_the_url_says_otherwise(
    tmp_path: Path, query: str, expected: ssl.VerifyMode
):
    conf = make_celery_app(Settings(home=tmp_path, broker_url=f"rediss://redis.example:6380/0{query}")).conf
    assert conf.broker_use_ssl == {"ssl_cert_reqs": expected}


def test_a_role_prepares_its_first_task_message_as_it_starts_without_reaching_the_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The scheduler's first message of a run (and a worker's first follow-up) would otherwise wait
    while Celery scans every installed package for result backends — once per process, whichever
    thread publishes (the scheduler's publisher thread, a worker's slots)."""
    import threading

    import celery.utils.imports

    from tradewind.queue.app import prepare_to_publish

    celery.utils.imports.load_extension_class_names.cache_clear()
    # A broker nobody answers at: preparing opens no connection.
    app = make_celery_app(Settings(home=tmp_path, broker_url="redis://127.0.0.1:1/0"))
    prepare_to_publish(app)

    def no_scan(*args: object, **kwargs: object) -> object:
        raise AssertionError("the installed packages were scanned while publishing")

    monkeypatch.setattr(celery.utils.imports, "entry_points", no_scan)
    backends: list[str] = []
    publisher = threading.Thread(target=lambda: backends.append(type(app.backend).__name__))
    publisher.start()
    publisher.join()
    assert backends == ["DisabledBackend"]
