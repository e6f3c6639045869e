"""``BaseSensorOperator``: a task that pokes until a condition holds, or times out.

In ``poke`` mode the sensor sleeps between pokes inside one try; in ``reschedule`` mode it raises
``AirflowRescheduleException`` so the worker slot is freed until the next poke is due. Either way
the timeout counts from the first poke of the task instance (``ti.first_poke_at``, which the
runner keeps across tries and reschedules). The clock and the sleep are class attributes, so a
test subclass (or instance) can replace them.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from tradewind.errors import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    DagDefinitionError,
)
from tradewind.sdk.baseoperator import BaseOperator

log = logging.getLogger("tradewind.task.operators")

#: Airflow's ``[sensors] default_timeout``: seven days.
DEFAULT_TIMEOUT = 7 * 24 * 3600
#: Exponents above this would only overflow; the interval is long past any sane max_wait by then.
_MAX_BACKOFF_EXPONENT = 40


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PokeReturnValue:
    """What ``poke`` may return instead of a bool: whether the sensor is done, and its XCom."""

    def __init__(self, is_done: bool, xcom_value: Any | None = None) -> None:
        self.is_done = is_done
        self.xcom_value = xcom_value

    def __bool__(self) -> bool:
        return bool(self.is_done)

    def __repr__(self) -> str:
        return f"PokeReturnValue(is_done={self.is_done!r}, xcom_value={self.xcom_value!r})"


def _seconds(name: str, value: Any, task_id: Any) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise DagDefinitionError(
            f"task {task_id!r}: {name} must be a non-negative number of seconds or a timedelta, got {value!r}"
        )
    return seconds


class BaseSensorOperator(BaseOperator):
    """Subclasses implement ``poke(context)``, returning a bool or a :class:`PokeReturnValue`."""

    ui_color: ClassVar[str] = "#e6f1f2"
    is_sensor: ClassVar[bool] = True
    valid_modes: ClassVar[tuple[str, ...]] = ("poke", "reschedule")
    #: The current time, timezone-aware; replace it in tests.
    clock = staticmethod(_utcnow)
    #: How poke mode waits between pokes; replace it in tests.
    sleep = staticmethod(time.sleep)

    def __init__(
        self,
        *,
        poke_interval: timedelta | float = 60,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
        soft_fail: bool = False,
        mode: str = "poke",
        exponential_backoff: bool = False,
        max_wait: timedelta | float | None = None,
        silent_fail: bool = False,
        never_fail: bool = False,
        **kwargs: Any,
    ) -> None:
        task_id = kwargs.get("task_id")
        # Checked before the task joins its DAG, so a bad sensor leaves nothing half-added.
        self.poke_interval = _seconds("poke_interval", poke_interval, task_id)
        self.timeout = _seconds("timeout", timeout, task_id)
        self.max_wait: timedelta | None = (
            None if max_wait is None else timedelta(seconds=_seconds("max_wait", max_wait, task_id))
        )
        if mode not in self.valid_modes:
            raise DagDefinitionError(
                f"task {task_id!r}: the mode must be one of {list(self.valid_modes)}; received {mode!r}"
            )
        if soft_fail and never_fail:
            raise DagDefinitionError(
                f"task {task_id!r}: soft_fail and never_fail are mutually exclusive, you can not provide both."
            )
        super().__init__(**kwargs)
        self.soft_fail = soft_fail
        self.never_fail = never_fail
        self.mode = mode
        self.exponential_backoff = exponential_backoff
        self.silent_fail = silent_fail

    @property
    def reschedule(self) -> bool:
        return self.mode == "reschedule"

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        """Whether the condition holds now (override this)."""
        raise NotImplementedError(f"{type(self).__name__} must implement poke()")

    # -- the loop ------------------------------------------------------------------------------

    def execute(self, context: dict[str, Any]) -> Any:
        started_at = self._first_poke_at(context)
        pokes_this_try = 0
        while True:
            result = self._poke_once(context)
            pokes_this_try += 1
            if result:
                return result.xcom_value
            now = self.clock()
            elapsed = (now - started_at).total_seconds()
            if elapsed > self.timeout:
                message = (
                    f"Sensor has timed out; run duration of {elapsed} seconds exceeds "
                    f"the specified timeout of {self.timeout}."
                )
                if self.soft_fail:
                    raise AirflowSkipException(message)
                raise AirflowSensorTimeout(message)
            if self.reschedule:
                interval = self.next_poke_interval(self.pokes_before(elapsed))
                raise AirflowRescheduleException(now + timedelta(seconds=interval))
            interval = self.next_poke_interval(pokes_this_try - 1)
            log.info("Condition not met; next poke in %s seconds", interval)
            self.sleep(interval)

    def _first_poke_at(self, context: dict[str, Any]) -> datetime:
        ti = context["ti"]
        started_at = getattr(ti, "first_poke_at", None)
        if started_at is None:
            started_at = self.clock()
            ti.first_poke_at = started_at
        elif started_at.tzinfo is None:
            started_at = started_at.replace(tzinfo=UTC)
        return started_at

    def _poke_once(self, context: dict[str, Any]) -> PokeReturnValue:
        try:
            result = self.poke(context)
        except (AirflowSensorTimeout, AirflowTaskTimeout, AirflowFailException) as exc:
            if self.soft_fail:
                raise AirflowSkipException("Skipping due to soft_fail is set to True.") from exc
            raise
        except AirflowSkipException:
            raise
        except Exception as exc:
            if self.silent_fail:
                log.exception("Sensor poke failed; silent_fail is set, so it counts as not done")
                result = False
            elif self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from exc
            else:
                raise
        if isinstance(result, PokeReturnValue):
            return result
        return PokeReturnValue(bool(result))

    # -- intervals -----------------------------------------------------------------------------

    def next_poke_interval(self, pokes_before: int) -> float:
        """Seconds to wait after the poke that had ``pokes_before`` pokes before it.

        Without backoff that is ``poke_interval``. With ``exponential_backoff`` it is
        ``poke_interval * 2 ** pokes_before`` (so poke_interval, 2x, 4x, …), capped by ``max_wait``.
        Airflow adds a random-looking jitter to the same doubling; tradewind keeps it exact so the
        next poke time is predictable.
        """
        if not self.exponential_backoff:
            return self.poke_interval
        interval = self.poke_interval * 2 ** min(pokes_before, _MAX_BACKOFF_EXPONENT)
        if self.max_wait is not None:
            interval = min(interval, self.max_wait.total_seconds())
        return interval

    def pokes_before(self, elapsed: float) -> int:
        """In reschedule mode nothing survives between pokes but ``first_poke_at``, so the number
        of earlier pokes is derived from the time since then: after ``n`` pokes with doubling waits
        at least ``poke_interval * (2**n - 1)`` seconds have passed. (Once ``max_wait`` caps the
        wait this overestimates ``n``, which only keeps the interval at the cap.)"""
        if not self.exponential_backoff or self.poke_interval <= 0:
            return 0
        n = 0
        # The small tolerance keeps float rounding (0.1 * 3 < 0.3) from losing a poke.
        while n < _MAX_BACKOFF_EXPONENT and self.poke_interval * (2 ** (n + 1) - 1) <= elapsed + 1e-6:
            n += 1
        return n
