"""Queue names: the default queue and how a ``--queues`` value is read (no Celery needed to import)."""

from __future__ import annotations

DEFAULT_QUEUE = "default"


def queue_names(value: str | None) -> list[str]:
    """``"a, b,,a"`` → ``["a", "b"]``; nothing given → ``["default"]``."""
    names: list[str] = []
    for part in (value or "").split(","):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    return names or [DEFAULT_QUEUE]
