"""``DAG`` and ``@dag``: a named graph of tasks with a schedule, as in Airflow 2.

The DAG checks what can be checked when a file is parsed (ids, schedule, cycles, start date) and
says what is wrong in one line. It runs nothing and touches no database.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tradewind.errors import (
    DagCycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    TaskNotFound,
    TradewindException,
)
from tradewind.sdk import dag_context, setup_teardown
from tradewind.sdk.graph_order import topological_order
from tradewind.sdk.inert_arguments import DAG_ARGUMENTS, warn_inert
from tradewind.sdk.params import ParamsDict
from tradewind.sdk.schedules import create_timetable
from tradewind.sdk.taskgroup import TaskGroup
from tradewind.sdk.timezones import zone_of
from tradewind.sdk.xcom_arg import ArgReference

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tradewind.sdk.baseoperator import BaseOperator

#: Airflow 2's default when a DAG names no schedule at all.
DEFAULT_SCHEDULE = timedelta(days=1)
_NOTSET: Any = object()


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise DagDefinitionError(f"{name} must be a datetime, got {value!r}")
    # Naive datetimes mean UTC, Airflow's default timezone.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _valid_id(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise DagDefinitionError(f"{kind} must be a non-empty string, got {value!r}")
    if len(value) > 250 or not all(c.isalnum() or c in "-_." for c in value):
        raise DagDefinitionError(f"{kind} {value!r} may contain only letters, digits, dashes, dots and underscores")
    return value


class DAG:
    """A DAG of tasks; use it as a context manager so tasks created inside join it."""

    def __init__(
        self,
        dag_id: str,
        description: str | None = None,
        schedule: Any = _NOTSET,
        schedule_interval: Any = _NOTSET,
        timetable: Any = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        full_filepath: str | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        template_undefined: Any = None,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Callable[..., Any]] | None = None,
        default_args: dict[str, Any] | None = None,
        concurrency: int | None = None,
        max_active_tasks: int = 16,
        max_active_runs: int = 16,
        dagrun_timeout: timedelta | None = None,
        sla_miss_callback: Callable[..., Any] | None = None,
        default_view: str = "grid",
        orientation: str = "LR",
        catchup: bool | None = None,
        on_success_callback: Callable[..., Any] | None = None,
        on_failure_callback: Callable[..., Any] | None = None,
        doc_md: str | None = None,
        params: dict[str, Any] | None = None,
        access_control: dict[str, Any] | None = None,
        is_paused_upon_creation: bool | None = None,
        jinja_environment_kwargs: dict[str, Any] | None = None,
        render_template_as_native_obj: bool = False,
        tags: list[str] | None = None,
        owner_links: dict[str, str] | None = None,
        auto_register: bool = True,
        fail_stop: bool = False,
        dag_display_name: str | None = None,
        max_consecutive_failed_dag_runs: int = 0,
    ) -> None:
        self.dag_id = _valid_id("dag_id", dag_id)
        #: What the UI shows for the DAG (Airflow 2.9+); the DAG id when not given.
        self.dag_display_name = dag_display_name or dag_id
        self.max_consecutive_failed_dag_runs = max_consecutive_failed_dag_runs
        warn_inert(
            "DAG",
            dag_id,
            {
                "sla_miss_callback": sla_miss_callback,
                "access_control": access_control,
                "owner_links": owner_links,
                "max_consecutive_failed_dag_runs": max_consecutive_failed_dag_runs,
                "fail_stop": fail_stop,
            },
            DAG_ARGUMENTS,
        )
        self.description = description
        self.default_args: dict[str, Any] = dict(default_args or {})
        if schedule is not _NOTSET and schedule_interval is not _NOTSET:
            raise DagDefinitionError(f"DAG {dag_id!r}: give schedule or schedule_interval, not both")
        raw_schedule = schedule if schedule is not _NOTSET else schedule_interval
        if timetable is not None:
            if raw_schedule is not _NOTSET:
                raise DagDefinitionError(f"DAG {dag_id!r}: give schedule or timetable, not both")
            raw_schedule = timetable
        if raw_schedule is _NOTSET:
            raw_schedule = DEFAULT_SCHEDULE
        self.start_date = _aware(start_date or self.default_args.get("start_date"), "start_date")
        self.end_date = _aware(end_date or self.default_args.get("end_date"), "end_date")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise DagDefinitionError(f"DAG {dag_id!r}: end_date is before start_date")
        #: Cron schedules are read on this clock: the start date's zone, UTC without one (as in Airflow).
        self.timezone = zone_of(self.start_date)
        try:
            self.timetable: Any = create_timetable(raw_schedule, self.timezone, start_date=self.start_date)
        except DagDefinitionError as exc:
            raise type(exc)(f"DAG {dag_id!r}: {exc}") from None
        self.fileloc: str | None = full_filepath or _caller_file()
        if isinstance(template_searchpath, str):
            template_searchpath = [template_searchpath]
        self.template_searchpath: list[str] | None = (
            list(template_searchpath) if template_searchpath is not None else None
        )
        self.template_undefined = template_undefined
        self.user_defined_macros = user_defined_macros
        self.user_defined_filters = user_defined_filters
        self.max_active_tasks = concurrency if concurrency is not None else max_active_tasks
        self.max_active_runs = max_active_runs
        if dagrun_timeout is not None and not isinstance(dagrun_timeout, timedelta):
            raise DagDefinitionError(f"DAG {dag_id!r}: dagrun_timeout must be a timedelta")
        self.dagrun_timeout = dagrun_timeout
        self.sla_miss_callback = sla_miss_callback
        self.default_view = default_view
        self.orientation = orientation
        self.catchup = catchup
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        self.doc_md = doc_md
        self.params = ParamsDict(params or {})
        self.access_control = access_control
        self.is_paused_upon_creation = is_paused_upon_creation
        self.jinja_environment_kwargs = jinja_environment_kwargs
        self.render_template_as_native_obj = render_template_as_native_obj
        self.tags: list[str] = list(tags or [])
        self.owner_links = owner_links or {}
        self.auto_register = auto_register
        self.fail_stop = fail_stop
        self.task_dict: dict[str, BaseOperator] = {}
        self.task_group_dict: dict[str, TaskGroup] = {}
        self.task_group = TaskGroup(group_id=None, dag=self)
        if auto_register:
            dag_context.register(self)

    # -- context manager -----------------------------------------------------------------------

    def __enter__(self) -> DAG:
        dag_context.push_dag(self)
        return self

    def __exit__(self, *exc: object) -> None:
        dag_context.pop_dag()

    # -- tasks ---------------------------------------------------------------------------------

    def add_task(self, task: BaseOperator) -> None:
        if task.task_id in self.task_dict and self.task_dict[task.task_id] is not task:
            raise DuplicateTaskIdError(f"DAG {self.dag_id!r} has more than one task with id {task.task_id!r}")
        if task.task_id in self.task_group_dict:
            raise DuplicateTaskIdError(
                f"DAG {self.dag_id!r}: task id {task.task_id!r} is already the id of a task group"
            )
        self.task_dict[task.task_id] = task
        setup_teardown.note_task(task)

    def add_tasks(self, tasks: Iterable[BaseOperator]) -> None:
        for task in tasks:
            task.dag = self

    @property
    def tasks(self) -> list[BaseOperator]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    def get_task(self, task_id: str) -> BaseOperator:
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise TaskNotFound(f"DAG {self.dag_id!r} has no task {task_id!r}") from None

    @property
    def roots(self) -> list[BaseOperator]:
        return [t for t in self.tasks if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [t for t in self.tasks if not t.downstream_task_ids]

    def topological_sort(self) -> list[BaseOperator]:
        """Tasks ordered so every task comes after its upstream tasks (stable by insertion)."""
        self.check_cycle()
        upstream = {task_id: task.upstream_task_ids for task_id, task in self.task_dict.items()}
        return [self.task_dict[task_id] for task_id in topological_order(upstream)]

    # -- validation ----------------------------------------------------------------------------

    def check_cycle(self) -> None:
        """Raise ``DagCycleError`` naming the tasks on a cycle, if there is one."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.task_dict, white)
        for start in self.task_dict:
            if color[start] != white:
                continue
            path: list[str] = []
            stack: list[tuple[str, Any]] = [(start, iter(sorted(self.task_dict[start].downstream_task_ids)))]
            color[start] = grey
            path.append(start)
            while stack:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    color[node] = black
                    stack.pop()
                    path.pop()
                    continue
                if child not in color:
                    continue
                if color[child] == grey:
                    cycle = path[path.index(child) :] + [child]
                    raise DagCycleError(f"DAG {self.dag_id!r} has a cycle: {' -> '.join(cycle)}")
                if color[child] == white:
                    color[child] = grey
                    path.append(child)
                    stack.append((child, iter(sorted(self.task_dict[child].downstream_task_ids))))

    def validate(self) -> None:
        """Every parse-time check: a cycle, a schedule without start date, undefined upstreams."""
        self.check_cycle()
        if self.timetable.can_be_scheduled and self.start_date is None:
            missing = [t.task_id for t in self.tasks if t.start_date is None]
            if missing or not self.tasks:
                raise DagDefinitionError(
                    f"DAG {self.dag_id!r} has a schedule ({self.timetable.summary}) but no start_date"
                )
        try:
            self.timetable.validate()
        except TradewindException as exc:
            raise DagDefinitionError(f"DAG {self.dag_id!r}: invalid timetable: {exc}") from None
        limit = self.timetable.active_runs_limit
        if limit is not None and limit < self.max_active_runs:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r}: invalid max_active_runs: {type(self.timetable).__name__} requires "
                f"max_active_runs <= {limit}"
            )
        for task in self.tasks:
            for upstream in task.upstream_task_ids:
                if upstream not in self.task_dict:
                    raise DagDefinitionError(
                        f"DAG {self.dag_id!r}: task {task.task_id!r} depends on unknown task {upstream!r}"
                    )
        self._validate_setup_teardown()

    def _validate_setup_teardown(self) -> None:
        """As Airflow: a work task directly below a setup keeps the all_success rule, so clearing it
        (which re-runs the setup) behaves the same whatever happened before."""
        for task in self.tasks:
            if not task.is_setup:
                continue
            for down_id in sorted(task.downstream_task_ids):
                down = self.task_dict.get(down_id)
                if down is not None and not down.is_teardown and down.trigger_rule != "all_success":
                    raise DagDefinitionError(
                        f"DAG {self.dag_id!r}: task {down_id!r} follows setup task {task.task_id!r} with trigger "
                        f"rule {down.trigger_rule!s}; setup tasks must be followed with trigger rule ALL_SUCCESS"
                    )

    # -- schedule ------------------------------------------------------------------------------

    @property
    def schedule_interval(self) -> Any:
        return self.timetable.summary

    @property
    def timetable_description(self) -> str | None:
        return str(self.timetable.description)

    def resolved_catchup(self, catchup_by_default: bool) -> bool:
        return self.catchup if self.catchup is not None else catchup_by_default

    # -- misc ----------------------------------------------------------------------------------

    @property
    def owner(self) -> str:
        return ", ".join(sorted({t.owner for t in self.tasks})) if self.tasks else "airflow"

    @property
    def folder(self) -> str | None:
        import os

        return os.path.dirname(self.fileloc) if self.fileloc else None

    def test(self, logical_date: datetime | None = None, conf: Mapping[str, Any] | None = None) -> Any:
        """Run this DAG in-process, as ``tradewind dags test`` does (Airflow's ``dag.test()``)."""
        from tradewind.sdk import runtime_services

        return runtime_services.dag_tester()(self, logical_date, dict(conf or {}))

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> DAG:
        return self


def _caller_file() -> str | None:
    """The file of the first frame outside tradewind that created this DAG."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if "/tradewind/sdk/" not in filename and "/tradewind/compat/" not in filename:
            return filename
        frame = frame.f_back  # type: ignore[assignment]
    return None


class DagParam(ArgReference):
    """A ``@dag`` function's argument: the run's value of that param, known only at run time."""

    def __init__(self, name: str, default: Any) -> None:
        self.name = name
        self.default = default

    def resolve(self, context: Mapping[str, Any]) -> Any:
        return context["params"].get(self.name, self.default)

    def __repr__(self) -> str:
        return f"DagParam({self.name!r})"


def dag(dag_id: str | Callable[..., Any] | None = None, **dag_kwargs: Any) -> Any:
    """``@dag``: calling the decorated function builds the DAG (named after the function unless
    ``dag_id`` is given); the function's keyword arguments become the DAG's params."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., DAG]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any) -> DAG:
            bound = signature.bind_partial(*args, **kwargs)
            bound.apply_defaults()
            params = dict(dag_kwargs.get("params") or {})
            for name, value in bound.arguments.items():
                params.setdefault(name, value)
            options = {k: v for k, v in dag_kwargs.items() if k != "params"}
            options.setdefault("doc_md", fn.__doc__)
            options.setdefault("full_filepath", inspect.getsourcefile(fn))
            name = dag_id if isinstance(dag_id, str) else fn.__name__
            with DAG(name, params=params, **options) as new_dag:
                fn(**{n: DagParam(n, v) for n, v in bound.arguments.items()})
            return new_dag

        return build

    if callable(dag_id):
        fn, dag_id = dag_id, None
        return decorate(fn)
    return decorate
