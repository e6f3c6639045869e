"""What the UI and the API show of secret values: a variable whose key looks secret, a
connection's password, and the secret-looking keys of a connection's extra, all as ``***``."""

from __future__ import annotations

import json
from typing import Any

MASK = "***"
#: A key containing one of these (any case) names a secret.
SECRET_WORDS: tuple[str, ...] = ("password", "passwd", "secret", "token", "api_key", "key", "private", "credential")


def looks_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def variable_value(key: str, value: str | None) -> str | None:
    return MASK if value is not None and looks_secret(key) else value


def password(value: str | None) -> str | None:
    return MASK if value else None


def extra(value: str | None) -> str | None:
    """The extra JSON with the values of secret-looking keys masked; all of it masked when it is
    not JSON, since then there is no telling which part is secret."""
    if not value:
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return MASK
    return json.dumps(_mask_json(parsed))


def _mask_json(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: MASK if looks_secret(str(k)) else _mask_json(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_json(item) for item in node]
    return node
