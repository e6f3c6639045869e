"""Keeps secret values out of task logs and command output, as Airflow's secrets masker does.

Every secret fetched in a process (a connection's password, a sensitive extra field, the value of a
variable whose key looks secret, anything passed to ``mask_secret``) is registered here; ``redact``
replaces each registered value with ``***``. A task's process installs ``MaskingFilter`` on its log
handlers and wraps ``sys.stdout``/``sys.stderr`` in ``MaskingStream``, which is where its log (and
what a BashOperator's command prints) goes.

Which keys look secret is decided here alone, for every place that masks — task logs, the CLI's
output, the UI and the API: a key containing one of ``DEFAULT_SENSITIVE_NAMES`` or of the words
``TRADEWIND_SENSITIVE_NAMES`` adds (``use_sensitive_names``). ``redact_value`` makes the display
copy of a structure (a variable, a connection's extra, an XCom value, a run's conf).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO
from urllib.parse import quote

REDACTED = "***"

#: Airflow's ``sensitive_var_conn_names`` defaults, and words Airflow lacks that name a secret just
#: as often (``db_credential``, ``aws_access_key``, ``my_private``): a key containing one is secret.
DEFAULT_SENSITIVE_NAMES: frozenset[str] = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "authorization",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "secret",
        "token",
        "keyfile_dict",
        "service_account",
        "credential",
        "private",
        "access_key",
    }
)

#: Shorter values are not masked (Airflow's ``min_length_masked_secret``): hiding every "a" or
#: "123" in a log would make it unreadable and protect nothing.
MIN_SECRET_LENGTH = 5

#: Deeper nesting than this is hidden whole rather than walked (a display copy never recurses without end).
MAX_DEPTH = 50

_sensitive_names: frozenset[str] = DEFAULT_SENSITIVE_NAMES


def use_sensitive_names(extra: Iterable[str]) -> None:
    """The words that mark a key secret in this process: the defaults and ``extra`` (the settings'
    ``TRADEWIND_SENSITIVE_NAMES``). Every entry point calls it once with its settings, before it
    forks the processes that run tasks or serve requests."""
    global _sensitive_names
    _sensitive_names = DEFAULT_SENSITIVE_NAMES | {word.strip().lower() for word in extra if word.strip()}


def sensitive_names() -> frozenset[str]:
    """The words that mark a key secret in this process."""
    return _sensitive_names


def should_hide_value_for_key(name: Any) -> bool:
    """Whether a variable key or field name marks its value as secret."""
    return isinstance(name, str) and any(word in name.lower() for word in _sensitive_names)


class SecretsMasker:
    """The secrets registered in one process and the pattern that finds them."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add_mask(self, secret: Any, name: str | None = None) -> None:
        """Register ``secret``: text is masked when ``name`` is absent or secret; a mapping's values
        are registered when their key is secret (with everything beneath it); other collections
        item by item."""
        self._add(secret, should_hide_value_for_key(name), name is None, 0)

    def _add(self, secret: Any, under_secret_key: bool, unnamed: bool, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(secret, Mapping):
            for key, value in secret.items():
                self._add(value, under_secret_key or should_hide_value_for_key(key), False, depth + 1)
        elif isinstance(secret, str):
            if under_secret_key or unnamed:
                self._add_text(secret)
        elif isinstance(secret, Iterable) and not isinstance(secret, bytes | bytearray):
            for item in secret:
                self._add(item, under_secret_key, unnamed, depth + 1)

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(REDACTED, text)

    def redact_value(self, value: Any, name: str | None = None) -> Any:
        """A copy of ``value`` for display: every text beneath a secret ``name`` or key becomes
        ``***``, registered secrets inside other text too; mappings and lists are walked."""
        return self._redacted(value, should_hide_value_for_key(name), 0)

    def _redacted(self, value: Any, hidden: bool, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return REDACTED
        if isinstance(value, Mapping):
            return {
                key: self._redacted(item, hidden or should_hide_value_for_key(key), depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self._redacted(item, hidden, depth + 1) for item in value]
        if isinstance(value, str):
            return REDACTED if hidden and value else self.redact(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._pattern = None

    def _add_text(self, secret: str) -> None:
        # The stream masks line by line, so each line of a multi-line secret (a private key) counts too.
        forms = {secret, secret.strip(), quote(secret, safe=""), *secret.splitlines()}
        forms = {form for form in forms if len(form) >= MIN_SECRET_LENGTH}
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            longest_first = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(form) for form in longest_first))


_masker = SecretsMasker()
_reading_for_another = threading.local()


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Airflow's ``mask_secret``: hide ``secret`` from every log line this process writes from now on
    (unless this thread is reading it for another process: ``read_for_another_process``)."""
    if getattr(_reading_for_another, "depth", 0):
        return
    _masker.add_mask(secret, name)


@contextmanager
def read_for_another_process() -> Iterator[None]:
    """Secrets read by this thread in the block are another process's to hide, which registers them
    itself (a worker answering its task's process): this process keeps none of them, so a worker
    that runs for months does not collect every secret its tries ever read."""
    _reading_for_another.depth = getattr(_reading_for_another, "depth", 0) + 1
    try:
        yield
    finally:
        _reading_for_another.depth -= 1


def redact(text: str) -> str:
    return _masker.redact(text)


def redact_value(value: Any, name: str | None = None) -> Any:
    return _masker.redact_value(value, name)


def display_copy(value: Any, name: str | None = None) -> Any:
    """What people should be shown of ``value`` (an XCom pushed under ``name``), or None when
    nothing in it is secret and the value itself may be shown."""
    shown = _masker.redact_value(value, name)
    return None if shown == value else shown


def process_masker() -> SecretsMasker:
    """The masker of this process."""
    return _masker


class MaskingFilter(logging.Filter):
    """Rewrites each record's message (and its traceback) with the registered secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's error to report, not ours
            return True
        masked = _masker.redact(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _masker.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = _masker.redact(record.exc_text)
        return True


class MaskingStream:
    """A text stream that writes whole lines to ``target`` with the registered secrets masked.

    Output is held until a newline (or ``flush``) so a secret written in pieces, as ``print`` does
    with its arguments, is still found.
    """

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._pending = ""
        self._lock = threading.RLock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                complete, _, self._pending = self._pending.rpartition("\n")
                self._target.write(_masker.redact(complete + "\n"))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._target.write(_masker.redact(self._pending))
                self._pending = ""
            self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def mask_standard_streams() -> None:
    """Wrap this process's ``sys.stdout`` and ``sys.stderr`` so what they write is masked."""
    import sys

    if not isinstance(sys.stdout, MaskingStream):
        sys.stdout = MaskingStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, MaskingStream):
        sys.stderr = MaskingStream(sys.stderr)  # type: ignore[assignment]


@contextmanager
def masked_standard_streams() -> Iterator[None]:
    """Mask ``sys.stdout`` and ``sys.stderr`` for the block (a task run in the command's own process)."""
    import sys

    saved = sys.stdout, sys.stderr
    mask_standard_streams()
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved


def mask_handler(handler: logging.Handler) -> None:
    """Mask the records ``handler`` writes."""
    if not any(isinstance(f, MaskingFilter) for f in handler.filters):
        handler.addFilter(MaskingFilter())
