"""The asyncio side of a triggerer: one event loop in a thread of its own, running every trigger
the triggerer holds as a task, thousands at once.

The metastore side (``loop.py``) tells it which triggers to run (``update``) and collects what
happened (``drain``): a trigger's first event, or its failure with the traceback. It never touches
the metastore itself, so a trigger that blocks holds up only the other triggers, not the heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tradewind.sdk.triggers.base import BaseTrigger, encode_kwargs, load_trigger

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fired:
    trigger_id: int
    payload: Any


@dataclass(frozen=True)
class Failed:
    trigger_id: int
    error: str
    traceback: list[str] | None


TriggerOutcome = Fired | Failed


@dataclass(frozen=True)
class TriggerSpec:
    trigger_id: int
    classpath: str
    kwargs: dict[str, Any]


async def run_until_event(trigger_id: int, trigger: BaseTrigger) -> TriggerOutcome:
    """Run one trigger to its first event; its failure (an exception, or no event at all) as ``Failed``."""
    try:
        async for event in trigger.run():
            try:
                return Fired(trigger_id, encode_kwargs(event.payload))
            except TypeError as exc:
                return Failed(trigger_id, f"Trigger failure: its event is not JSON: {exc}", None)
        return Failed(trigger_id, "Trigger failure: it ended without sending an event", None)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a trigger may raise anything; its task fails with it
        return Failed(trigger_id, "Trigger failure", traceback.format_exception(exc))
    finally:
        try:
            await trigger.cleanup()
        except Exception:  # noqa: BLE001
            logger.exception("cleanup of trigger %s failed", trigger_id)


def build(spec: TriggerSpec) -> BaseTrigger | Failed:
    """The trigger object of a stored trigger, or its failure to load."""
    try:
        trigger = load_trigger(spec.classpath, spec.kwargs)
    except Exception as exc:  # noqa: BLE001 - a trigger that cannot be built fails its task
        return Failed(spec.trigger_id, "Trigger failure", traceback.format_exception(exc))
    trigger.trigger_id = spec.trigger_id
    return trigger


class TriggerRunner:
    """An event loop in a daemon thread running the triggers it is given."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        #: Ids whose outcome was reported, until the metastore side stops asking for them.
        self._reported: set[int] = set()
        self._outcomes: queue.SimpleQueue[TriggerOutcome] = queue.SimpleQueue()
        #: Set when an outcome is waiting, so the metastore side writes it at once.
        self.outcome_ready = threading.Event()
        self._thread = threading.Thread(target=self._loop.run_forever, name="triggers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> int:
        return len(self._tasks)

    def update(self, wanted: Iterable[TriggerSpec]) -> None:
        """Run exactly the ``wanted`` triggers: start the new ones, cancel those no longer wanted."""
        specs = {spec.trigger_id: spec for spec in wanted}
        self._loop.call_soon_threadsafe(self._sync, specs)

    def drain(self) -> list[TriggerOutcome]:
        self.outcome_ready.clear()
        found: list[TriggerOutcome] = []
        while True:
            try:
                found.append(self._outcomes.get_nowait())
            except queue.Empty:
                return found

    def stop(self) -> None:
        async def cancel_all() -> None:
            for task in list(self._tasks.values()):
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    # -- in the loop's thread ----------------------------------------------------------------------

    def _sync(self, specs: dict[int, TriggerSpec]) -> None:
        self._reported &= specs.keys()
        for trigger_id in list(self._tasks):
            if trigger_id not in specs:
                self._tasks.pop(trigger_id).cancel()
        for trigger_id, spec in specs.items():
            if trigger_id in self._tasks or trigger_id in self._reported:
                continue
            self._tasks[trigger_id] = self._loop.create_task(self._run(spec))

    async def _run(self, spec: TriggerSpec) -> None:
        built = build(spec)
        outcome = built if isinstance(built, Failed) else await run_until_event(spec.trigger_id, built)
        self._reported.add(spec.trigger_id)
        self._tasks.pop(spec.trigger_id, None)
        self._outcomes.put(outcome)
        self.outcome_ready.set()
