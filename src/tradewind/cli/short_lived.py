"""Verbs that act on the metastore and end, run without the cyclic garbage collector.

In a fresh ``tradewind`` process, most of a verb like ``dags trigger`` is importing SQLAlchemy, the
ORM models and redis-py: hundreds of thousands of objects, none of them garbage, over which the
collector makes pass after pass as they pile up (nearly a tenth of the command's time here). A run
that was just triggered waits for all of it. So a verb marked ``short_lived`` turns the collector
off before its imports — but only when the process ends with the command: the console entry point
says so (``process_ends_with_command``); a verb invoked inside a longer-lived process (a test's
``CliRunner``, a program embedding the group) leaves the collector as it is.

What such a command allocates is freed by reference counting as it goes; what only the collector
would free (objects in reference cycles) goes with the process a moment later, as it does anyway
(``main`` freezes everything before the interpreter shuts down). Long-running verbs (the roles,
``dags test``, ``tasks test``) are never marked.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_process_ends_with_command = False


def process_ends_with_command() -> None:
    """Called by the console entry point: this process exits when its one command has run."""
    global _process_ends_with_command
    _process_ends_with_command = True


def short_lived(verb: Callable[P, R]) -> Callable[P, R]:
    """Mark a verb that acts on the metastore alone and ends: in a process that ends with it, it
    runs (and imports) with the cyclic collector off."""

    @functools.wraps(verb)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if _process_ends_with_command:
            gc.disable()
        return verb(*args, **kwargs)

    run.short_lived = True  # type: ignore[attr-defined]
    return run


def is_short_lived(callback: Callable[..., object] | None) -> bool:
    """Whether a command's callback was marked ``short_lived``."""
    return bool(getattr(callback, "short_lived", False))
