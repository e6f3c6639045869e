"""What a finished try means: the pure decision from "how did it end" to the next state.

Both the task's child process (which knows the exception) and the worker (which only sees a
child that died) come here, so retries, skips, timeouts and reschedules follow one rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from tradewind.decisions.retries import RetryPolicy, decide_failure
from tradewind.errors import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSkipException,
    AirflowTaskTimeout,
    TaskDeferred,
)
from tradewind.sdk.triggers.base import encode_kwargs, serialize_checked
from tradewind.states import TaskInstanceState as TI


@dataclass
class Outcome:
    """The end of one try, as sent from the task's process to the worker (JSON)."""

    state: TI
    error: str | None = None
    retry_at: datetime | None = None
    next_poke_at: datetime | None = None
    first_poke_at: datetime | None = None
    skip_task_ids: list[str] = field(default_factory=list)
    #: On success, the dataset events the try sends: ``{"uri", "extra", "aliases"}`` each.
    dataset_events: list[dict[str, Any]] = field(default_factory=list)
    #: A deferred try: what it waits on and how it resumes (``Deferral.to_json``).
    deferral: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = str(self.state)
        for name in ("retry_at", "next_poke_at", "first_poke_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        values = dict(data)
        values["state"] = TI(values["state"])
        for name in ("retry_at", "next_poke_at", "first_poke_at"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


@dataclass(frozen=True)
class Deferral:
    """A try that deferred: its trigger as Airflow serializes it, the method it resumes with,
    and when it fails if the trigger has not fired."""

    classpath: str
    trigger_kwargs: dict[str, Any]
    next_method: str
    next_kwargs: dict[str, Any] | None
    timeout_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["timeout_at"] = self.timeout_at.isoformat() if self.timeout_at is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deferral:
        values = dict(data)
        if values.get("timeout_at"):
            values["timeout_at"] = datetime.fromisoformat(values["timeout_at"])
        return cls(**values)


def deferred(exc: TaskDeferred, *, now: datetime, started: datetime | None, execution_timeout: Any) -> Outcome:
    """The outcome of a try that raised ``TaskDeferred``: its trigger's timeout is the one given
    to ``defer``, else the task's ``execution_timeout`` counted from the try's start (Airflow 2.10)."""
    classpath, trigger_kwargs = serialize_checked(exc.trigger)
    timeout_at = None
    if exc.timeout is not None:
        timeout_at = now + exc.timeout
    elif execution_timeout is not None:
        timeout_at = (started or now) + execution_timeout
    deferral = Deferral(classpath, trigger_kwargs, exc.method_name, encode_kwargs(exc.kwargs), timeout_at)
    return Outcome(TI.DEFERRED, deferral=deferral.to_json())


def success(
    skip_task_ids: list[str] | None = None,
    first_poke_at: datetime | None = None,
    dataset_events: list[dict[str, Any]] | None = None,
) -> Outcome:
    return Outcome(
        TI.SUCCESS,
        skip_task_ids=list(skip_task_ids or []),
        first_poke_at=first_poke_at,
        dataset_events=list(dataset_events or []),
    )


def from_exception(
    exc: BaseException,
    *,
    task: Any,
    try_number: int,
    max_tries: int,
    now: datetime,
    first_poke_at: datetime | None = None,
) -> Outcome:
    """The outcome of a try that raised ``exc``."""
    message = describe(exc)
    if isinstance(exc, AirflowSkipException):
        return Outcome(TI.SKIPPED, error=message or None, first_poke_at=first_poke_at)
    if isinstance(exc, AirflowRescheduleException):
        return Outcome(TI.UP_FOR_RESCHEDULE, next_poke_at=exc.reschedule_date, first_poke_at=first_poke_at)
    fail_fast = isinstance(exc, AirflowFailException)
    state, retry_at = decide_failure(RetryPolicy.from_task(task), try_number, max_tries, now, fail_fast=fail_fast)
    return Outcome(state, error=message, retry_at=retry_at, first_poke_at=first_poke_at)


def from_crash(
    exit_code: int | None,
    *,
    retry: RetryPolicy,
    try_number: int,
    max_tries: int,
    now: datetime,
    reason: str | None = None,
) -> Outcome:
    """The outcome of a try whose process ended without saying how (killed, crashed, timed out)."""
    if reason is None:
        if exit_code is not None and exit_code < 0:
            reason = f"the task's process was killed by signal {-exit_code}"
            if exit_code == -9:
                reason += " (SIGKILL: out of memory, or killed from outside)"
        else:
            reason = f"the task's process exited with code {exit_code} without reporting a result"
    state, retry_at = decide_failure(retry, try_number, max_tries, now, fail_fast=False)
    return Outcome(state, error=reason, retry_at=retry_at)


def describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, AirflowSkipException | AirflowRescheduleException):
        return text
    if isinstance(exc, AirflowTaskTimeout):
        return f"AirflowTaskTimeout: {text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
