"""``create_app(settings)``: the Flask app of the web UI and REST API.

To add a page or an API resource, write a module with a blueprint named ``bp`` (templates in
``templates/<blueprint name>/``) and list the module in ``BLUEPRINTS``. Its routes need a login
by default (see ``auth.py``); the app itself never imports user DAG code.
"""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta

from flask import Flask, Response

from tradewind.master.webserver import auth, db, errors, input_guard, templating
from tradewind.master.webserver.api import request_check
from tradewind.master.webserver.secret_key import resolve_secret_key
from tradewind.redaction import redact
from tradewind.sdk import plugins
from tradewind.secrets import masker
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

#: Modules defining a blueprint ``bp``, registered in this order.
BLUEPRINTS: tuple[str, ...] = (
    "tradewind.master.webserver.auth",
    "tradewind.master.webserver.views.health",
    "tradewind.master.webserver.views.dags",
    "tradewind.master.webserver.views.actions",
    "tradewind.master.webserver.views.runs",
    "tradewind.master.webserver.views.task_instance_list",
    "tradewind.master.webserver.views.dag_dependencies",
    "tradewind.master.webserver.views.audit",
    "tradewind.master.webserver.views.datasets",
    "tradewind.master.webserver.views.grid",
    "tradewind.master.webserver.views.task_instance",
    "tradewind.master.webserver.views.graph",
    "tradewind.master.webserver.views.gantt",
    "tradewind.master.webserver.views.task_charts",
    "tradewind.master.webserver.views.code",
    "tradewind.master.webserver.views.users",
    "tradewind.master.webserver.views.pools",
    "tradewind.master.webserver.views.variables",
    "tradewind.master.webserver.views.connections",
    "tradewind.master.webserver.views.metrics",
    *(
        f"tradewind.master.webserver.api.{name}"
        for name in (
            "variables",
            "connections",
            "pools",
            "dags",
            "dag_details",
            "dag_sources",
            "dag_parsing",
            "import_errors",
            "dag_runs",
            "task_instances",
            "task_instance_actions",
            "task_logs",
            "xcoms",
            "event_logs",
            "health",
            "version",
            "config",
            "providers",
            "users",
            "roles",
            "datasets",
            "dag_stats",
            "dag_warnings",
            "openapi",
        )
    ),
)

#: Scripts only from our own static files; inline styles are allowed (state colours, widths of bars).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(settings: Settings | None = None) -> Flask:
    """The app for ``settings`` (default: from the TRADEWIND_* environment).

    Raises ``ConfigurationError`` when there is no secret key to sign sessions with. Building the
    app opens no database connection; the first request does.
    """
    settings = settings if settings is not None else Settings.from_env()
    # A DAG's custom timetable is known to the UI only through the plugin that registers it.
    plugins.load_now(settings.resolved_plugins_folder)
    secret, source = resolve_secret_key(settings)
    # Which variables, extra fields, XCom and conf keys the pages and the API show as ***.
    masker.use_sensitive_names(settings.sensitive_name_list)
    logger.info("webserver: sessions signed with %s; metastore %s", source, redact(settings.resolved_database_url))
    app = Flask(__name__.rsplit(".", 1)[0])
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME=auth.SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.webserver_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.webserver_session_minutes),
        MAX_CONTENT_LENGTH=settings.webserver_max_request_bytes,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    db.init_app(app, settings)
    auth.init_app(app)
    input_guard.init_app(app)
    request_check.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    app.after_request(_security_headers)
    for module_name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(module_name).bp)
    return app


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if response.mimetype not in ("text/css", "application/javascript", "text/javascript", "image/svg+xml"):
        # Pages and API answers show live state and private data: never serve them from a cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response
