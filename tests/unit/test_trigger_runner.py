"""The triggerer's asyncio side: triggers run side by side on one loop in a thread of their own; the
first event of each, or its failure with the traceback, comes back to the metastore side once; a
trigger no longer wanted is cancelled and cleaned up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tradewind.sdk.triggers.base import BaseTrigger, TriggerEvent, serialize_checked
from tradewind.sdk.triggers.temporal import DateTimeTrigger
from tradewind.triggerer.runner import Failed, Fired, TriggerOutcome, TriggerRunner, TriggerSpec

CLEANED: list[str] = []


class Raises(BaseTrigger):
    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{__name__}.Raises", {}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        raise RuntimeError("the service said no")
        yield TriggerEvent(None)


class Forever(BaseTrigger):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{__name__}.Forever", {"name": self.name}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await asyncio.sleep(3600)
        yield TriggerEvent(None)

    async def cleanup(self) -> None:
        CLEANED.append(self.name)


@pytest.fixture
def runner():  # type: ignore[no-untyped-def]
    started = TriggerRunner()
    started.start()
    yield started
    started.stop()


def spec(trigger_id: int, trigger: BaseTrigger) -> TriggerSpec:
    return TriggerSpec(trigger_id, *serialize_checked(trigger))


def outcomes(runner: TriggerRunner, count: int, timeout: float = 5.0) -> list[TriggerOutcome]:
    found: list[TriggerOutcome] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        runner.outcome_ready.wait(0.05)
        found += runner.drain()
    return found


def test_triggers_due_now_fire_once_each_and_a_later_one_keeps_waiting(runner: TriggerRunner) -> None:
    now = datetime.now(UTC)
    due = [spec(i, DateTimeTrigger(now - timedelta(seconds=i))) for i in range(1, 101)]
    later = spec(500, DateTimeTrigger(now + timedelta(hours=1)))
    runner.update([*due, later])
    fired = outcomes(runner, 100)
    assert sorted(o.trigger_id for o in fired) == list(range(1, 101))
    assert all(isinstance(o, Fired) for o in fired)
    # Still asked for (not yet written), a fired trigger is not started again.
    runner.update([*due, later])
    assert outcomes(runner, 1, timeout=0.3) == []
    assert runner.running == 1


def test_a_trigger_that_raises_comes_back_failed_with_its_traceback(runner: TriggerRunner) -> None:
    runner.update([spec(1, Raises())])
    (failed,) = outcomes(runner, 1)
    assert isinstance(failed, Failed) and failed.error == "Trigger failure"
    assert "RuntimeError: the service said no" in "".join(failed.traceback or [])


def test_a_trigger_whose_class_cannot_be_imported_fails(runner: TriggerRunner) -> None:
    runner.update([TriggerSpec(7, "no_such_module.Trigger", {})])
    (failed,) = outcomes(runner, 1)
    assert isinstance(failed, Failed) and "no_such_module" in "".join(failed.traceback or [])


def test_a_trigger_no_longer_wanted_is_cancelled_and_cleaned_up(runner: TriggerRunner) -> None:
    runner.update([spec(1, Forever("kept")), spec(2, Forever("dropped"))])
    deadline = time.monotonic() + 5
    while runner.running < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.update([spec(1, Forever("kept"))])
    while "dropped" not in CLEANED and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "dropped" in CLEANED and "kept" not in CLEANED
    assert runner.running == 1
    assert runner.drain() == []
