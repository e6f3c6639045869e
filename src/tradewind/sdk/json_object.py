"""Text that must hold a JSON object — a file, an option, a setting, a connection's JSON form —
read into a dict, or refused with one message that names the text and says what is wrong."""

from __future__ import annotations

import json
from typing import Any

from tradewind.errors import NotAJsonObject


def parse_json_object(text: str, what: str, expected: str = "must be a JSON object") -> dict[str, Any]:
    """The object ``text`` holds. Otherwise ``NotAJsonObject``: "<what> is not valid JSON: <why>", or
    "<what> <expected>" when it is JSON of another type (named by the error's ``found``)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise NotAJsonObject(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise NotAJsonObject(f"{what} {expected}", found=type(value).__name__)
    return value
