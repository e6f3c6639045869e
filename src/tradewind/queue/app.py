"""The Celery app shared by the executor (which only ``send_task``s by name) and the workers.

No task is registered here: the worker registers ``RUN_TASK_INSTANCE`` itself, so the master never
imports worker code. The broker is ``settings.broker_url`` (Redis in a cluster) or, when that is
unset, an embedded broker for ``tradewind standalone``: kombu's filesystem transport in folders
under ``settings.home / "broker"``.

Delivery settings. Celery with Redis delivers *at least once*; tradewind turns that into *at most
one execution per try* with the metastore, not with the broker: a worker starts a try only by the
compare-and-set ``queued → running`` on (task instance, try number), so every duplicate, stale or
redelivered message finds nothing to claim and is dropped in milliseconds. A message that is lost
leaves its task instance ``queued`` in the metastore, and the scheduler sends it again. So:

- ``task_acks_late=True``: the message is acknowledged after the task returns, so a worker that
  dies before or while starting a try leaves the message in Redis to be redelivered, not lost.
- ``worker_prefetch_multiplier=1``: a worker reserves one message per slot (with late acks the
  running ones count), so a long task never holds back messages another worker could
  start now, and ``--scale worker=N`` shares work fairly.
- ``task_reject_on_worker_lost=False``: nothing is requeued on purpose when a worker is lost
  mid-task (requeueing could loop a poison message through every worker). The try is left
  ``running``, the scheduler's zombie detection fails or retries it under the task's retry rules,
  and a copy Redis redelivers after the visibility timeout finds nothing to claim.
- JSON only (``task_serializer``, ``accept_content``): a message is a ``TaskMessage`` of ids and a
  try number, never a pickle.
- ``task_ignore_result=True`` and no result backend: outcomes go to the metastore, the only truth.
- ``broker_transport_options``: socket timeouts, TCP keepalive and ``health_check_interval`` so a
  half-open connection to Redis is noticed and reopened instead of hanging a worker forever.
  ``visibility_timeout=VISIBILITY_TIMEOUT_S`` (10 min): an unacknowledged message comes back after
  that long. That only matters when a worker vanished while holding a message (power loss, a
  SIGKILL of the whole worker); a task that runs longer than the timeout is redelivered once,
  finds its try ``running`` and is dropped, which is harmless — so the value is chosen for
  recovery speed (the scheduler's re-send of long-queued task instances is the other safety net),
  not to outlast the longest task, unlike Airflow's 6–24 h.
- Workers (``worker=True``): ``broker_connection_retry_on_startup=True`` and
  ``broker_connection_max_retries=None`` so a Redis restart is waited out, not fatal;
  ``worker_cancel_long_running_tasks_on_connection_loss=False`` so a Redis blip does not kill
  running tries (their ack is lost with the connection; the redelivered copy finds the try
  ``running`` and is dropped).
- ``worker_enable_remote_control=False``: no pidbox queues per worker; stopping a task goes
  through the metastore (the runner's heartbeat sees the task instance changed and kills it).
- ``broker_transport``: kombu's Redis transport with one repair (``redis_transport.py``): an
  acknowledgement that fails because Redis is gone still gives back the prefetch credit, so the
  worker's consumer keeps polling, meets the dead connection and reconnects by itself instead of
  idling forever once ``concurrency`` acks have failed.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from celery import Celery  # type: ignore[import-untyped]

from tradewind.errors import TradewindException
from tradewind.queue.names import DEFAULT_QUEUE
from tradewind.queue.redis_keys import is_redis_url
from tradewind.settings import Settings

#: Seconds before Redis hands an unacknowledged message to another worker (see module docstring).
VISIBILITY_TIMEOUT_S = 600
#: Seconds a socket operation on Redis may take before the connection is considered dead.
SOCKET_TIMEOUT_S = 30.0
SOCKET_CONNECT_TIMEOUT_S = 5.0
HEALTH_CHECK_INTERVAL_S = 10
#: How often the embedded (filesystem) broker looks for new messages.
EMBEDDED_POLLING_INTERVAL_S = 0.05
EMBEDDED_BROKER_URL = "filesystem://"
#: kombu's Redis transport with acknowledgements that cannot wedge the consumer (named, not imported:
#: only a process that connects to Redis loads it).
REDIS_TRANSPORT = "tradewind.queue.redis_transport:Transport"


class BrokerUnreachable(TradewindException):
    """The broker named by the settings cannot be reached."""


def broker_url_for(settings: Settings) -> str:
    """The broker URL the app uses: the configured one, or the embedded filesystem broker."""
    return settings.broker_url or EMBEDDED_BROKER_URL


def embedded_broker_folders(settings: Settings) -> dict[str, Path]:
    """The embedded broker's folders under the home folder (created)."""
    root = settings.home / "broker"
    folders = {"data": root / "data", "processed": root / "processed", "control": root / "control"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def transport_options(settings: Settings) -> dict[str, Any]:
    if settings.broker_url:
        return {
            "visibility_timeout": VISIBILITY_TIMEOUT_S,
            "socket_timeout": SOCKET_TIMEOUT_S,
            "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT_S,
            "socket_keepalive": True,
            "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        }
    folders = embedded_broker_folders(settings)
    # One folder in and out: the executor and the workers are both producer and consumer of it.
    return {
        "data_folder_in": str(folders["data"]),
        "data_folder_out": str(folders["data"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
        "polling_interval": EMBEDDED_POLLING_INTERVAL_S,
    }


_CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def _cert_reqs(url: str) -> ssl.VerifyMode:
    """``ssl_cert_reqs`` of a ``rediss://`` URL's query (required, optional or none; as Celery reads
    it), or required: a server's certificate is checked unless the URL says otherwise."""
    value = dict(parse_qsl(urlsplit(url).query)).get("ssl_cert_reqs", "required").lower()
    return _CERT_REQS.get(value.removeprefix("cert_"), ssl.CERT_REQUIRED)


def celery_config(settings: Settings, *, worker: bool = False) -> dict[str, Any]:
    """The Celery settings described in the module docstring."""
    config: dict[str, Any] = {
        "broker_url": broker_url_for(settings),
        "broker_transport_options": transport_options(settings),
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": False,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": DEFAULT_QUEUE,
        "task_create_missing_queues": True,
        "worker_enable_remote_control": False,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "broker_connection_retry_on_startup": True,
        # A publish that cannot reach Redis fails after a few quick tries; the task instance stays
        # queued in the metastore and the scheduler sends it again.
        "task_publish_retry": True,
        "task_publish_retry_policy": {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 1},
        "enable_utc": True,
    }
    if is_redis_url(settings.broker_url):
        config["broker_transport"] = REDIS_TRANSPORT
        if urlsplit(settings.broker_url or "").scheme == "rediss":
            # Naming the transport skips kombu's own rediss:// handling, which would turn TLS on.
            config["broker_use_ssl"] = {"ssl_cert_reqs": _cert_reqs(settings.broker_url or "")}
    if worker:
        config["broker_connection_max_retries"] = None
    return config


def make_celery_app(settings: Settings, *, worker: bool = False) -> Celery:
    """The Celery app for ``settings``; ``worker=True`` adds the settings only a worker needs."""
    app = Celery("tradewind", set_as_current=False)
    app.conf.update(celery_config(settings, worker=worker))
    return app


def prepare_to_publish(app: Celery) -> None:
    """Do now what a process's first ``send_task`` would otherwise do on its way to the broker: load
    Celery's (disabled) result backend, which scans every installed package's entry points, and its
    producer pool. Called as a role starts, so its first task message leaves as fast as the rest
    (10–20 ms sooner here). Opens no connection."""
    _ = app.backend
    _ = app.amqp.producer_pool


def check_broker(app: Celery, settings: Settings) -> None:
    """Connect to the broker once; a ``BrokerUnreachable`` naming the URL (password hidden) if not."""
    from tradewind.redaction import redact

    url = broker_url_for(settings)
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=SOCKET_CONNECT_TIMEOUT_S
            )
    except Exception as exc:  # noqa: BLE001 - any failure here means "cannot reach the broker"
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        password = urlsplit(url).password
        if password:
            reason = reason.replace(password, "***")
        raise BrokerUnreachable(f"cannot reach the broker at {redact(url)}: {reason}") from None
