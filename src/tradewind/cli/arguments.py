"""Parsing of command-line values shared by commands: dates, JSON objects and a run's conf, with clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tradewind.errors import NotAJsonObject, TradewindException
from tradewind.sdk.json_object import parse_json_object


class BadArgument(TradewindException):
    """A command-line value that cannot be used; shown as one line, exit code 1."""


def parse_date(value: str | None, name: str = "logical date") -> datetime | None:
    """An ISO 8601 date or datetime; naive values are UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadArgument(
            f"invalid {name} {value!r}: use ISO 8601 such as 2024-01-01 or 2024-01-01T06:00:00+00:00"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_conf(value: str | None) -> dict[str, Any]:
    """A run's conf: a JSON object, or nothing."""
    if value is None or value == "":
        return {}
    try:
        return parse_json_object(value, "--conf", "must be a JSON object such as '{\"key\": 1}'")
    except NotAJsonObject as exc:
        raise BadArgument(f"{exc}, got a {exc.found}" if exc.found else str(exc)) from None


def json_object_argument(text: str, what: str, expected: str) -> dict[str, Any]:
    """The JSON object ``text`` holds, or a ``BadArgument`` naming ``what`` (see ``parse_json_object``)."""
    try:
        return parse_json_object(text, what, expected)
    except NotAJsonObject as exc:
        raise BadArgument(str(exc)) from None
