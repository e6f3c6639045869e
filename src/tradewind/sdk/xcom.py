"""XCom values: checked to be plain JSON within the configured size, never pickled.

Encoding happens on the worker before anything is written, so a bad value fails the task that
produced it, with a message that says what was wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tradewind.errors import XComValueError

RETURN_VALUE_KEY = "return_value"


def encode_xcom_value(value: Any, *, task_id: str, key: str, max_bytes: int) -> str:
    """The JSON text of ``value``; ``XComValueError`` if it is not plain JSON or too large."""
    _check_json(value, task_id, key, path="value")
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise XComValueError(
            f"task {task_id!r} pushed XCom {key!r} of {size:,} bytes, larger than the limit of "
            f"{max_bytes:,} bytes (TRADEWIND_XCOM_MAX_BYTES); store large data elsewhere and pass a reference"
        )
    return text


def decode_xcom_value(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _check_json(value: Any, task_id: str, key: str, path: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise XComValueError(_not_json(task_id, key, path, value, "NaN and infinity are not JSON"))
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, task_id, key, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise XComValueError(_not_json(task_id, key, path, k, "JSON object keys must be strings"))
            _check_json(item, task_id, key, f"{path}[{k!r}]")
        return
    raise XComValueError(_not_json(task_id, key, path, value, None))


def _not_json(task_id: str, key: str, path: str, value: Any, reason: str | None) -> str:
    what = reason or f"a {type(value).__name__} is not JSON-serialisable"
    return (
        f"task {task_id!r} pushed XCom {key!r} that is not JSON ({path}: {what}); XCom values must be "
        "dicts, lists, strings, numbers, booleans or None"
    )
