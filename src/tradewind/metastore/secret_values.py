"""How a secret value (a variable's value, a connection's password and extra) is stored: the one
place that turns a value into its stored form and back.

For now values are stored as given and marked ``is_encrypted=False``. Encryption with a Fernet key
replaces ``encode`` and ``decode`` (and only them); ``decode`` already receives the row's flag, so
rows written before the key existed stay readable.
"""

from __future__ import annotations


def encode(value: str | None) -> tuple[str | None, bool]:
    """(the stored form of ``value``, whether that form is encrypted)."""
    return value, False


def decode(stored: str | None, is_encrypted: bool) -> str | None:
    """The value a stored form stands for."""
    if is_encrypted:
        raise NotImplementedError("encrypted values need the Fernet key support of a later release")
    return stored
