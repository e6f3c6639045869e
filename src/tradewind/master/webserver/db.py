"""The app's settings and metastore: one engine and session factory per app, one session per request.

A view takes the request's session from ``get_session()``; a view that writes calls
``session.commit()`` itself before it answers, so a failed commit is an error response rather
than a success the database never saw. The session is closed (and anything uncommitted rolled
back) when the request ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, stream_with_context
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
from tradewind.settings import Settings

_EXTENSION = "tradewind.metastore"
SETTINGS_KEY = "TRADEWIND_SETTINGS"


@dataclass(frozen=True)
class AppMetastore:
    engine: Engine
    factory: sessionmaker[Session]


def init_app(app: Flask, settings: Settings) -> None:
    app.config[SETTINGS_KEY] = settings
    engine = create_engine_from_settings(settings)
    app.extensions[_EXTENSION] = AppMetastore(engine, make_session_factory(engine))
    app.teardown_appcontext(_close_session)


def get_settings() -> Settings:
    """The settings the app was built with."""
    settings: Settings = current_app.config[SETTINGS_KEY]
    return settings


def get_session() -> Session:
    """The current request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = metastore(current_app).factory()
    session: Session = g.db_session
    return session


def streamed(read: Callable[[Session], Iterator[str]]) -> Iterator[str]:
    """What ``read(session)`` yields, as a response body streamed with the request's context. The
    stream gets a session of its own, closed when it ends: Flask tears the request's session down
    as soon as the view returns, before the body is sent."""
    factory = metastore(current_app).factory

    def generate() -> Iterator[str]:
        session = factory()
        try:
            yield from read(session)
        finally:
            session.close()

    return stream_with_context(generate())


def metastore(app: Flask) -> AppMetastore:
    found: AppMetastore = app.extensions[_EXTENSION]
    return found


def dispose(app: Flask) -> None:
    """Close the app's pooled connections (tests building many apps, a process shutting down)."""
    metastore(app).engine.dispose()


def _close_session(_exc: BaseException | None) -> Any:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
