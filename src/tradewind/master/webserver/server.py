"""Serving the app with gunicorn: check the metastore and the secret key first, so a bad setup is
one clear line and exit code 1 rather than workers failing to boot over and over.

The app is built once, in gunicorn's master (``preload_app``), and its workers are forked from
it: they share the master's pages (its objects frozen out of the garbage collector's reach, so a
collection in a worker does not copy them), which keeps a webserver of two workers near the size
of one; a first request served in the master builds what Flask and Jinja would otherwise build in
each worker. Each worker drops the master's pooled connections after the fork and opens its own.
The app's code and settings are those the master loaded: restart the webserver (a SIGHUP only
replaces the workers) to change them.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from tradewind.errors import MetastoreError
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

WORKER_TIMEOUT_S = 60
GRACEFUL_TIMEOUT_S = 10


class WebserverApplication(BaseApplication):  # type: ignore[misc]
    """Gunicorn, configured from ``Settings`` rather than its own command line; the app is built in
    the master and each worker opens its own database connections after the fork."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.flask_app: Flask | None = None
        super().__init__()

    def load_config(self) -> None:
        options = {**gunicorn_options(self.settings), "pre_fork": self._pre_fork, "post_fork": self._post_fork}
        for key, value in options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        from tradewind.master.webserver.app import create_app

        self.flask_app = create_app(self.settings)
        warm_up(self.flask_app)
        return self.flask_app

    def _pre_fork(self, server: Any, worker: Any) -> None:
        gc.freeze()  # what the master built stays shared with the worker about to be forked

    def _post_fork(self, server: Any, worker: Any) -> None:
        from tradewind.master.webserver.db import metastore
        from tradewind.metastore.engine import dispose_after_fork

        if self.flask_app is not None:
            dispose_after_fork(metastore(self.flask_app).engine)


def warm_up(app: Flask) -> None:
    """Serve a health check and the login page once, in the master: what Flask, Werkzeug and Jinja
    build on a first request (the URL map, the compiled templates) is then built once and shared.
    The master keeps no database connection afterwards."""
    from tradewind.master.webserver.db import dispose

    client = app.test_client()
    for path in ("/health", "/login"):
        try:
            client.get(path)
        except Exception as exc:  # noqa: BLE001 - a warm-up only; a real request reports the problem
            logger.debug("warming up %s failed: %s", path, exc)
    dispose(app)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    host = settings.webserver_host
    return {
        "bind": f"[{host}]:{settings.webserver_port}" if ":" in host else f"{host}:{settings.webserver_port}",
        "workers": settings.webserver_workers,
        "threads": settings.webserver_worker_threads,
        "worker_class": "gthread",
        "preload_app": True,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": "tradewind-webserver",
        "timeout": WORKER_TIMEOUT_S,
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        # gunicorn >= 25.1 opens a control socket under HOME by default; two webservers on one
        # machine (standalone next to a test, say) would fight over it.
        "control_socket_disable": True,
    }


def check_ready(settings: Settings) -> None:
    """Raise ``MetastoreError`` / ``ConfigurationError`` unless the webserver can start."""
    from tradewind.master.webserver.secret_key import resolve_secret_key
    from tradewind.metastore.engine import check_connection, create_engine_from_settings
    from tradewind.metastore.schema_version import HEAD_REVISION, read_revision
    from tradewind.redaction import redact

    resolve_secret_key(settings)  # also creates the standalone key once, before the workers fork
    engine = create_engine_from_settings(settings)
    try:
        check_connection(engine)
        revision = read_revision(engine)
    finally:
        engine.dispose()
    if revision != HEAD_REVISION:
        raise MetastoreError(
            f"the metastore at {redact(settings.resolved_database_url)} is at schema revision {revision or 'none'}, "
            f"tradewind needs {HEAD_REVISION}: run `tradewind db migrate`"
        )


def serve(settings: Settings) -> None:
    check_ready(settings)
    logger.info(
        "tradewind webserver on http://%s:%s (%d workers × %d threads)",
        settings.webserver_host,
        settings.webserver_port,
        settings.webserver_workers,
        settings.webserver_worker_threads,
    )
    WebserverApplication(settings).run()
