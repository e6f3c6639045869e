"""The key that signs web sessions: TRADEWIND_SECRET_KEY, or for a one-machine (SQLite) install a
random key generated once and kept in HOME/webserver_secret, so every gunicorn worker and every
restart signs sessions alike. A cluster must set the key: its webservers have to share it."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from tradewind.errors import ConfigurationError
from tradewind.settings import Settings

logger = logging.getLogger(__name__)

SECRET_FILE_NAME = "webserver_secret"
SHORT_KEY_LENGTH = 16


def secret_file(settings: Settings) -> Path:
    return settings.home / SECRET_FILE_NAME


def resolve_secret_key(settings: Settings) -> tuple[str, str]:
    """(the key, where it came from); raises ``ConfigurationError`` when there is none to use."""
    if settings.secret_key:
        if len(settings.secret_key) < SHORT_KEY_LENGTH:
            logger.warning(
                "TRADEWIND_SECRET_KEY is shorter than %d characters; use a long random value", SHORT_KEY_LENGTH
            )
        return settings.secret_key, "TRADEWIND_SECRET_KEY"
    path = secret_file(settings)
    if path.exists():
        return _read(path), f"the generated key in {path}"
    if not settings.is_sqlite:
        raise ConfigurationError(
            "TRADEWIND_SECRET_KEY is empty: set it to a long random value, the same on every webserver "
            "(e.g. `python3 -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return _create(path), f"a key generated into {path} (set TRADEWIND_SECRET_KEY in a cluster)"


def _create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    try:
        # A hard link appears complete or not at all, and fails when the file exists: of several
        # workers starting at once, the first one's key wins and every one of them reads it.
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _read(path)


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if not key:
        raise ConfigurationError(f"{path} is empty; delete it to generate a new key, or set TRADEWIND_SECRET_KEY")
    return key
