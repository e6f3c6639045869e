"""Text that must hold a JSON object — a file, an option, a setting, a connection's JSON form, a
run's conf — read into a dict, or refused with one message that names the text and says what is
wrong. JSON nested deeper than ``MAX_JSON_DEPTH`` is refused before it is parsed (Python's parser
would run out of stack on it, and nothing tradewind stores needs it)."""

from __future__ import annotations

import json
import math
from typing import Any

from tradewind.errors import NotAJsonObject

#: The deepest nesting of arrays and objects tradewind reads, wherever JSON comes from.
MAX_JSON_DEPTH = 100


def json_depth(text: str | bytes) -> int:
    """How deeply the arrays and objects of JSON ``text`` nest (brackets inside strings do not count);
    it stops counting once past ``MAX_JSON_DEPTH``. Valid or not, any text has a depth."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        elif char in "]}":
            depth -= 1
    return deepest


def check_depth(text: str | bytes, what: str) -> None:
    """Raise ``NotAJsonObject`` when ``text`` nests deeper than ``MAX_JSON_DEPTH``."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise NotAJsonObject(f"{what} nests arrays and objects more than {MAX_JSON_DEPTH} levels deep")


def parse_json_object(text: str, what: str, expected: str = "must be a JSON object") -> dict[str, Any]:
    """The object ``text`` holds. Otherwise ``NotAJsonObject``: "<what> is not valid JSON: <why>", or
    "<what> <expected>" when it is JSON of another type (named by the error's ``found``)."""
    check_depth(text, what)
    try:
        value = loads_json(text)
    except ValueError as exc:
        raise NotAJsonObject(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise NotAJsonObject(f"{what} {expected}", found=type(value).__name__)
    return value


def loads_json(text: str | bytes) -> Any:
    """``json.loads``, refusing what only Python accepts (``NaN``, ``Infinity``, a float too large to
    hold): no store keeps them, and no other JSON reader reads them. ``ValueError`` says why."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def _refuse_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are Python's extension, not JSON; no store keeps them."""
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large a number (Infinity is not a JSON value)")
    return number
