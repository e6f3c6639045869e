"""``BaseTrigger`` and ``TriggerEvent``, Airflow's contract for what a triggerer runs.

A trigger is serialized as ``(classpath, kwargs)`` — the class's import path and the keyword
arguments that rebuild it — so a triggerer in another process (or machine) can run it. ``run()``
is an async generator that yields ``TriggerEvent``s; the first one resumes the task that deferred.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator
from typing import Any

from tradewind.errors import TradewindException


class TriggerEvent:
    """What a trigger fires with; ``payload`` reaches the resumed method as ``event`` (JSON)."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload

    def __repr__(self) -> str:
        return f"TriggerEvent<{self.payload!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TriggerEvent) and other.payload == self.payload

    def __hash__(self) -> int:
        return hash(json.dumps(self.payload, sort_keys=True, default=str))


class BaseTrigger:
    """Subclasses implement ``serialize()`` and ``async run()``; ``cleanup()`` runs when the trigger
    is removed from a triggerer (fired, cancelled, or given to another)."""

    def __init__(self, **kwargs: Any) -> None:
        #: Set by the triggerer before ``run()``: the id of the trigger's row.
        self.trigger_id: int | None = None
        self.task_instance: Any = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError(f"{type(self).__name__} must implement serialize()")

    async def run(self) -> AsyncIterator[TriggerEvent]:
        raise NotImplementedError(f"{type(self).__name__} must implement run()")
        yield  # pragma: no cover - makes this an async generator

    async def cleanup(self) -> None:
        """Release what ``run`` holds; called when the trigger stops running."""

    def __repr__(self) -> str:
        classpath, kwargs = self.serialize()
        args = ", ".join(f"{name}={value!r}" for name, value in kwargs.items())
        return f"<{classpath} {args}>"


class TriggerNotFound(TradewindException):
    """A stored trigger's class cannot be imported in the triggerer."""


def classpath_of(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def load_trigger(classpath: str, kwargs: dict[str, Any]) -> BaseTrigger:
    """Rebuild a trigger from what ``serialize()`` returned; ``TriggerNotFound`` names a class that
    cannot be imported (its module must be importable by the triggerer: the plugins or DAG folder)."""
    module_name, _, name = classpath.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise TriggerNotFound(f"cannot import the trigger class {classpath!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseTrigger)):
        raise TriggerNotFound(f"{classpath!r} is not a BaseTrigger subclass")
    return cls(**decode_kwargs(kwargs))


def serialize_checked(trigger: BaseTrigger) -> tuple[str, dict[str, Any]]:
    """``trigger.serialize()``, with kwargs checked to be JSON (stored in the metastore)."""
    if not isinstance(trigger, BaseTrigger):
        raise TypeError(f"defer(trigger=...) needs a BaseTrigger, got {type(trigger).__name__}")
    classpath, kwargs = trigger.serialize()
    try:
        return classpath, encode_kwargs(kwargs)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the trigger {classpath}'s kwargs are not JSON: {exc}") from exc


def encode_kwargs(value: Any) -> Any:
    """``value`` as JSON the metastore stores: datetimes and timedeltas tagged, so
    ``decode_kwargs`` gives them back; anything else that is not JSON raises ``TypeError``."""
    return json.loads(json.dumps(value, default=_encode))


def _encode(value: Any) -> Any:
    from datetime import datetime, timedelta

    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, timedelta):
        return {"__timedelta__": value.total_seconds()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def decode_kwargs(value: Any) -> Any:
    """The inverse of the JSON encoding of trigger kwargs: datetimes and timedeltas back."""
    from datetime import datetime, timedelta

    if isinstance(value, dict):
        if set(value) == {"__datetime__"}:
            return datetime.fromisoformat(value["__datetime__"])
        if set(value) == {"__timedelta__"}:
            return timedelta(seconds=value["__timedelta__"])
        return {key: decode_kwargs(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_kwargs(item) for item in value]
    return value
