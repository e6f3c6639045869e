"""The template context of one task try (Airflow 2 key names) and ``get_current_context()``.

``build_context`` is pure: the runner gathers the run's facts into a :class:`RunInfo` and passes
them in; nothing here reads the metastore or the clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tradewind.errors import TradewindException
from tradewind.sdk import airflow_conf
from tradewind.sdk.dataset_events import InletEventsAccessors, OutletEventAccessors, triggering_events
from tradewind.sdk.macros import template_macros
from tradewind.sdk.schedules import DataInterval, next_logical_date, previous_logical_date
from tradewind.sdk.template_accessors import ConnectionAccessor, VariableAccessors

try:
    import pendulum
except ImportError:  # pragma: no cover - pendulum is a dependency; kept optional for the SDK alone
    pendulum = None  # type: ignore[assignment]


class Context(dict[str, Any]):
    """The mapping templates and ``execute(context)`` receive; a plain dict with a name."""


@dataclass(frozen=True)
class RunInfo:
    """What the context needs to know about the DAG run a task try belongs to.

    Dates must be timezone-aware. ``data_interval_*`` default to ``logical_date``;
    ``prev_logical_date`` / ``next_logical_date`` override what the DAG's timetable says (a run
    triggered from outside is its own neighbour, as in Airflow).
    """

    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    conf: Mapping[str, Any] = field(default_factory=dict)
    start_date: datetime | None = None
    external_trigger: bool = False
    prev_logical_date: datetime | None = None
    next_logical_date: datetime | None = None

    def __post_init__(self) -> None:
        for name in (
            "logical_date",
            "data_interval_start",
            "data_interval_end",
            "start_date",
            "prev_logical_date",
            "next_logical_date",
        ):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"RunInfo.{name} must be timezone-aware, got {value!r}")


@dataclass(frozen=True)
class DagRunView:
    """``{{ dag_run }}``: the run's attributes under their Airflow 2 names."""

    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    conf: dict[str, Any]
    start_date: datetime | None
    external_trigger: bool

    @property
    def execution_date(self) -> datetime:
        """Airflow's deprecated name for ``logical_date``."""
        return self.logical_date


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC, as a pendulum ``DateTime`` when pendulum is installed."""
    if pendulum is not None:
        return pendulum.instance(value).in_timezone("UTC")
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


def _ds(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d")


def _ds_nodash(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y%m%d")


def _neighbours(run: RunInfo, timetable: Any, logical: datetime, interval_end: datetime) -> tuple[Any, Any]:
    """The deprecated ``prev_execution_date`` and ``next_execution_date``, as Airflow 2 computes
    them: a run triggered from outside is its own neighbour; any other run gets the schedule's point
    before its logical date and the logical date of the schedule's next run after its interval."""
    if run.external_trigger:
        return (_utc_or_none(run.prev_logical_date) or logical, _utc_or_none(run.next_logical_date) or logical)
    if timetable is None:  # no schedule known: the end of the interval is the best guess
        return _utc_or_none(run.prev_logical_date), _utc_or_none(run.next_logical_date) or interval_end
    interval_start = to_utc(run.data_interval_start) if run.data_interval_start else logical
    prev_date = run.prev_logical_date or previous_logical_date(timetable, logical)
    next_date = run.next_logical_date or next_logical_date(
        timetable, DataInterval(interval_start, interval_end), now=interval_end
    )
    return _utc_or_none(prev_date), _utc_or_none(next_date)


def _date_keys(run: RunInfo, timetable: Any = None) -> dict[str, Any]:
    """Every key derived from the run's dates (``timetable``: the DAG's, for the deprecated
    ``prev_*`` and ``next_*`` keys)."""
    logical = to_utc(run.logical_date)
    ts = logical.isoformat()
    interval_end = to_utc(run.data_interval_end) if run.data_interval_end else logical
    prev_date, next_date = _neighbours(run, timetable, logical, interval_end)
    yesterday, tomorrow = logical - timedelta(days=1), logical + timedelta(days=1)
    return {
        "logical_date": logical,
        "execution_date": logical,
        "data_interval_start": to_utc(run.data_interval_start) if run.data_interval_start else logical,
        "data_interval_end": interval_end,
        "ds": _ds(logical),
        "ds_nodash": _ds_nodash(logical),
        "ts": ts,
        "ts_nodash": logical.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": ts.replace("-", "").replace(":", ""),
        "next_execution_date": next_date,
        "next_ds": _ds(next_date),
        "next_ds_nodash": _ds_nodash(next_date),
        "prev_execution_date": prev_date,
        "prev_ds": _ds(prev_date),
        "prev_ds_nodash": _ds_nodash(prev_date),
        "yesterday_ds": _ds(yesterday),
        "yesterday_ds_nodash": _ds_nodash(yesterday),
        "tomorrow_ds": _ds(tomorrow),
        "tomorrow_ds_nodash": _ds_nodash(tomorrow),
        # Filled once the metastore can tell which earlier run succeeded.
        "prev_data_interval_start_success": None,
        "prev_data_interval_end_success": None,
        "prev_execution_date_success": None,
        "prev_start_date_success": None,
        "prev_end_date_success": None,
    }


def build_context(
    *,
    dag: Any,
    task: Any,
    run: RunInfo,
    ti: Any,
    params: dict[str, Any],
    extra_macros: dict[str, Any] | None = None,
) -> Context:
    """The context of one task try.

    ``dag.user_defined_macros`` come first, so the built-in keys win over them (in Airflow they are
    Jinja globals, which the context shadows); ``extra_macros`` come last and win over both.
    ``conf`` is Airflow's configuration object (``sdk.airflow_conf``); the run's conf is
    ``dag_run.conf`` (and, merged into them, ``params``).
    """
    dates = _date_keys(run, getattr(dag, "timetable", None))
    dag_run = DagRunView(
        dag_id=run.dag_id,
        run_id=run.run_id,
        run_type=run.run_type,
        logical_date=dates["logical_date"],
        data_interval_start=dates["data_interval_start"],
        data_interval_end=dates["data_interval_end"],
        conf=dict(run.conf),
        start_date=_utc_or_none(run.start_date),
        external_trigger=run.external_trigger,
    )
    task_id = getattr(task, "task_id", None)
    context = Context(getattr(dag, "user_defined_macros", None) or {})
    context.update(dates)
    context.update(
        dag=dag,
        task=task,
        ti=ti,
        task_instance=ti,
        dag_run=dag_run,
        run_id=run.run_id,
        task_instance_key_str=f"{run.dag_id}__{task_id}__{dates['ds_nodash']}",
        params=params,
        conf=airflow_conf.conf,
        macros=template_macros(),
        test_mode=False,
        try_number=getattr(ti, "try_number", None),
        map_index=getattr(ti, "map_index", -1),
        templates_dict=None,
        inlets=list(getattr(task, "inlets", None) or []),
        outlets=list(getattr(task, "outlets", None) or []),
        inlet_events=InletEventsAccessors(list(getattr(task, "inlets", None) or [])),
        outlet_events=OutletEventAccessors(),
        triggering_dataset_events=triggering_events(run.dag_id, run.run_id, run.run_type),
        expanded_ti_count=None,
        var=VariableAccessors(),
        conn=ConnectionAccessor(),
    )
    context.update(extra_macros or {})
    return context


_current: ContextVar[tuple[Context, ...]] = ContextVar("tradewind_current_context", default=())


@contextmanager
def set_current_context(context: Context) -> Iterator[Context]:
    """Make ``context`` what ``get_current_context()`` returns while the task runs."""
    token = _current.set((*_current.get(), context))
    try:
        yield context
    finally:
        _current.reset(token)


def get_current_context() -> Context:
    """The context of the task that is running now (Airflow's ``get_current_context``)."""
    stack = _current.get()
    if not stack:
        raise TradewindException(
            "get_current_context() was called outside a running task: the context exists only "
            "while a task executes (inside execute() or a @task function)"
        )
    return stack[-1]
