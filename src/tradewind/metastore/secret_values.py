"""How a secret value (a variable's value, a connection's password and extra) is stored: the one
place that turns a value into its stored form and back.

Values are encrypted with Fernet under ``TRADEWIND_FERNET_KEY``, as Airflow does with its
``fernet_key``. The setting may hold several keys separated by commas: the first encrypts, any of
them decrypts, so a key is rotated by putting the new one first and running
``tradewind rotate-fernet-key``. With no key, values are stored as given with ``is_encrypted=False``
(and a warning); each row keeps its own flag, so rows written before a key was set stay readable.

The keys travel with the engine: ``create_engine_from_settings`` calls ``use_keys``, so every
session a process opens on that engine encrypts with the settings it was built from.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.errors import ConfigurationError, SecretDecryptionError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

# cryptography (with the OpenSSL it bundles, some megabytes in every process) is imported when a
# secret is first encrypted or decrypted: most processes never handle one.

logger = logging.getLogger(__name__)

_engine_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_warned_without_key = False


@dataclass(frozen=True)
class Keyring:
    """The Fernet keys of one ``TRADEWIND_FERNET_KEY`` value (none: values are stored in clear)."""

    fernet: MultiFernet | None
    key_count: int


@lru_cache(maxsize=16)
def parse_keys(setting: str) -> Keyring:
    """The keyring of a ``TRADEWIND_FERNET_KEY`` value; a key that is not a Fernet key is a clear error."""
    keys = [key.strip() for key in (setting or "").split(",") if key.strip()]
    if not keys:
        return Keyring(None, 0)
    from cryptography.fernet import Fernet, MultiFernet

    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            which = f"key {position} of {len(keys)}" if len(keys) > 1 else "the key"
            raise ConfigurationError(
                f"TRADEWIND_FERNET_KEY: {which} is not a Fernet key (32 url-safe base64-encoded bytes, "
                "as made by cryptography's Fernet.generate_key())"
            ) from None
    return Keyring(MultiFernet(fernets), len(fernets))


def generate_key() -> str:
    """A new Fernet key, as text for ``TRADEWIND_FERNET_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def use_keys(engine: Engine, fernet_key: str) -> None:
    """Encrypt and decrypt with ``fernet_key`` in every session on ``engine``."""
    with _lock:
        _engine_keys[engine] = fernet_key


def keyring_for(session: Session) -> Keyring:
    """The keys of the engine ``session`` is bound to (``create_engine_from_settings`` registers them;
    an engine built any other way has none)."""
    engine = session.get_bind()
    engine = engine.engine if not isinstance(engine, Engine) else engine
    with _lock:
        setting = _engine_keys.get(engine, "")
    return parse_keys(setting)


def encode(keyring: Keyring, value: str | None) -> tuple[str | None, bool]:
    """(the stored form of ``value``, whether that form is encrypted)."""
    if value is None:
        return None, False
    if keyring.fernet is None:
        _warn_without_key()
        return value, False
    return keyring.fernet.encrypt(value.encode("utf-8")).decode("ascii"), True


def decode(keyring: Keyring, stored: str | None, is_encrypted: bool, what: str) -> str | None:
    """The value a stored form stands for; ``what`` names the row in the error when it cannot be read."""
    if stored is None or not is_encrypted:
        return stored
    if keyring.fernet is None:
        raise SecretDecryptionError(f"{what} is encrypted but TRADEWIND_FERNET_KEY is not set")
    from cryptography.fernet import InvalidToken

    try:
        return keyring.fernet.decrypt(stored.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise SecretDecryptionError(
            f"cannot decrypt {what}: none of the {keyring.key_count} key(s) in TRADEWIND_FERNET_KEY is the one "
            "it was encrypted with (to change keys, list the new key first and the old one after it, "
            "then run `tradewind rotate-fernet-key`)"
        ) from None


def reencrypt(keyring: Keyring, stored: str | None, is_encrypted: bool, what: str) -> tuple[str | None, bool]:
    """The stored form under the first key (a value stored in clear gets encrypted)."""
    if stored is None:
        return None, False
    if keyring.fernet is None:
        raise ConfigurationError("TRADEWIND_FERNET_KEY is not set: there is no key to encrypt with")
    if not is_encrypted:
        return encode(keyring, stored)
    from cryptography.fernet import InvalidToken

    try:
        return keyring.fernet.rotate(stored.encode("ascii")).decode("ascii"), True
    except InvalidToken:
        decode(keyring, stored, is_encrypted, what)  # raises the error that names the row
        raise


def _warn_without_key() -> None:
    global _warned_without_key
    if not _warned_without_key:
        _warned_without_key = True
        logger.warning(
            "TRADEWIND_FERNET_KEY is not set: connection passwords, extras and variables are stored unencrypted"
        )
