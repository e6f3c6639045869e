"""What every template can use: the current user, the CSRF field, state colours, the menus, and
filters for times and durations. Times are shown in UTC, as the metastore stores them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

from tradewind.master.webserver import csrf
from tradewind.master.webserver.auth import current_user
from tradewind.master.webserver.markdown_text import render_markdown
from tradewind.master.webserver.navigation import nav_for
from tradewind.master.webserver.state_colours import STATE_COLOURS
from tradewind.version import __version__


def init_app(app: Flask) -> None:
    # Autoescape every template, whatever its file name: nothing a user wrote is ever markup.
    app.jinja_env.autoescape = True
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["duration"] = format_duration
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.globals.update(
        csrf_token=csrf.csrf_token,
        csrf_field=csrf.csrf_field,
        state_colours=STATE_COLOURS,
        tradewind_version=__version__,
    )
    app.context_processor(_per_request)


def _per_request() -> dict[str, Any]:
    user = current_user()
    return {"current_user": user, "nav": nav_for(user)}


def format_datetime(value: datetime | None, empty: str = "") -> str:
    """``2024-03-01 06:00:00`` in UTC."""
    if value is None:
        return empty
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None, empty: str = "") -> str:
    """``1h 02m 03s``, ``4m 05s``, ``6.2s``."""
    if seconds is None:
        return empty
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"
