"""Parsing of command-line values shared by commands: dates and JSON conf, with clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tradewind.errors import TradewindException


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
        conf = json.loads(value)
    except json.JSONDecodeError as exc:
        raise BadArgument(f"--conf is not valid JSON: {exc}") from None
    if not isinstance(conf, dict):
        raise BadArgument(f"--conf must be a JSON object such as '{{\"key\": 1}}', got a {type(conf).__name__}")
    return conf
