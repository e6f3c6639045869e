"""Showing a database or broker URL to people — in errors and logs — without its password."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


def redact(url: URL | str) -> str:
    """The URL as text with its password replaced by ``***``, spelled as people write it."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError

    if isinstance(url, str):
        try:
            url = sa.make_url(url)
        except ArgumentError:
            return "<unparseable URL>"
    if url.drivername == "postgresql+psycopg2":
        url = url.set(drivername="postgresql")  # the driver tradewind picks for postgresql:// anyway
    return url.render_as_string(hide_password=True)
