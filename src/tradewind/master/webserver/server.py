"""Serving the app with gunicorn: check the metastore and the secret key first, so a bad setup is
one clear line and exit code 1 rather than workers failing to boot over and over."""

from __future__ import annotations

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
    """Gunicorn, configured from ``Settings`` rather than its own command line; each worker builds
    its own app after the fork, so no database connection is shared between processes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        from tradewind.master.webserver.app import create_app

        return create_app(self.settings)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    host = settings.webserver_host
    return {
        "bind": f"[{host}]:{settings.webserver_port}" if ":" in host else f"{host}:{settings.webserver_port}",
        "workers": settings.webserver_workers,
        "threads": settings.webserver_worker_threads,
        "worker_class": "gthread",
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
