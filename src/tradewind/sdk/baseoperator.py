"""``BaseOperator``: one task of a DAG, with Airflow 2's arguments and ``default_args`` rules.

An operator is a plain Python object describing work: where it sits in the DAG, how often it may
be retried, which pool and queue it uses. ``execute(context)`` is what a worker calls; nothing in
this module touches the metastore or the queue.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from tradewind.errors import (
    DagDefinitionError,
    TaskAlreadyInDagError,
    TaskDeferralError,
    TaskDeferred,
    TradewindException,
)
from tradewind.sdk import dag_context
from tradewind.sdk.dependencies import DependencyMixin
from tradewind.sdk.inert_arguments import TASK_ARGUMENTS, warn_inert
from tradewind.sdk.trigger_rules import TriggerRule
from tradewind.sdk.xcom_arg import RETURN_VALUE_KEY, XComArg, find_xcom_args

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG
    from tradewind.sdk.taskgroup import TaskGroup

DEFAULT_OWNER = "airflow"
DEFAULT_POOL = "default_pool"
DEFAULT_QUEUE = "default"
DEFAULT_RETRY_DELAY = timedelta(seconds=300)
MAX_RETRY_DELAY = timedelta(hours=24)

_INIT_DONE = "_tradewind_init_depth"


def _apply_default_args(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap an operator's ``__init__`` so missing keyword arguments come from ``default_args``
    (the DAG's, then its task groups', then the task's own), as Airflow's ``apply_defaults`` does."""
    signature = inspect.signature(init)
    accepted = {
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }

    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if args:
            raise TradewindException(
                f"use keyword arguments when creating {type(self).__name__}; got positional {args!r}"
            )
        dag = kwargs.get("dag") or dag_context.current_dag()
        group = kwargs.get("task_group") or dag_context.current_group(dag)
        defaults: dict[str, Any] = {}
        if dag is not None:
            defaults.update(dag.default_args)
        if group is not None:
            defaults.update(group.merged_default_args())
        defaults.update(kwargs.get("default_args") or {})
        for name in accepted:
            if name not in kwargs and name in defaults:
                kwargs[name] = defaults[name]
        depth = getattr(self, _INIT_DONE, 0)
        object.__setattr__(self, _INIT_DONE, depth + 1)
        try:
            init(self, **kwargs)
        finally:
            object.__setattr__(self, _INIT_DONE, depth)
        if depth == 0:
            self._after_init()

    return wrapper


def _as_timedelta(name: str, value: Any) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    raise DagDefinitionError(f"{name} must be a timedelta or a number of seconds, got {value!r}")


class BaseOperator(DependencyMixin):
    """The base of every operator. Subclasses implement ``execute(context)``."""

    template_fields: ClassVar[Sequence[str]] = ()
    template_ext: ClassVar[Sequence[str]] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color: ClassVar[str] = "#fff"
    ui_fgcolor: ClassVar[str] = "#000"
    #: Sensors override this; the scheduler and the UI read it from the serialized form.
    is_sensor: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _apply_default_args(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        task_id: str,
        owner: str = DEFAULT_OWNER,
        email: str | Sequence[str] | None = None,
        email_on_retry: bool = True,
        email_on_failure: bool = True,
        retries: int | None = 0,
        retry_delay: timedelta | float = DEFAULT_RETRY_DELAY,
        retry_exponential_backoff: bool = False,
        max_retry_delay: timedelta | float | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        depends_on_past: bool = False,
        wait_for_downstream: bool = False,
        ignore_first_depends_on_past: bool = True,
        dag: DAG | None = None,
        params: dict[str, Any] | None = None,
        default_args: dict[str, Any] | None = None,
        priority_weight: int = 1,
        weight_rule: str = "downstream",
        queue: str = DEFAULT_QUEUE,
        pool: str | None = None,
        pool_slots: int = 1,
        sla: timedelta | None = None,
        execution_timeout: timedelta | float | None = None,
        on_execute_callback: Callable[..., Any] | None = None,
        on_failure_callback: Callable[..., Any] | None = None,
        on_success_callback: Callable[..., Any] | None = None,
        on_retry_callback: Callable[..., Any] | None = None,
        trigger_rule: str = TriggerRule.ALL_SUCCESS,
        resources: Any = None,
        run_as_user: str | None = None,
        max_active_tis_per_dag: int | None = None,
        task_concurrency: int | None = None,
        executor_config: dict[str, Any] | None = None,
        do_xcom_push: bool = True,
        inlets: Any = None,
        outlets: Any = None,
        task_group: TaskGroup | None = None,
        doc: str | None = None,
        doc_md: str | None = None,
        doc_json: str | None = None,
        doc_yaml: str | None = None,
        doc_rst: str | None = None,
        task_display_name: str | None = None,
        on_skipped_callback: Callable[..., Any] | None = None,
        pre_execute: Callable[..., Any] | None = None,
        post_execute: Callable[..., Any] | None = None,
        wait_for_past_depends_before_skipping: bool = False,
        map_index_template: str | None = None,
        max_active_tis_per_dagrun: int | None = None,
        executor: str | None = None,
        multiple_outputs: bool = False,
        logger_name: str | None = None,
        allow_nested_operators: bool = True,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TradewindException(
                f"invalid arguments were passed to {type(self).__name__} (task_id: {task_id}): "
                f"{', '.join(sorted(kwargs))}"
            )
        if not isinstance(task_id, str) or not task_id:
            raise DagDefinitionError(f"task_id must be a non-empty string, got {task_id!r}")
        if not all(c.isalnum() or c in "-_." for c in task_id):
            raise DagDefinitionError(
                f"task_id {task_id!r} may contain only letters, digits, dashes, dots and underscores"
            )
        dag = dag or dag_context.current_dag()
        group = task_group or dag_context.current_group(dag)
        self.task_group: TaskGroup | None = group
        self.label = task_id
        self.task_id = group.child_id(task_id) if group is not None else task_id
        self.owner = owner
        self.email = email
        self.email_on_retry = email_on_retry
        self.email_on_failure = email_on_failure
        self.retries = int(retries or 0)
        if self.retries < 0:
            raise DagDefinitionError(f"task {self.task_id!r}: retries cannot be negative")
        # `or` would turn an explicit timedelta(0) (retry at once, which Airflow allows) into the default.
        delay = _as_timedelta("retry_delay", retry_delay)
        self.retry_delay = delay if delay is not None else DEFAULT_RETRY_DELAY
        self.retry_exponential_backoff = bool(retry_exponential_backoff)
        self.max_retry_delay = _as_timedelta("max_retry_delay", max_retry_delay)
        self.start_date = start_date
        self.end_date = end_date
        self.depends_on_past = depends_on_past
        self.wait_for_downstream = wait_for_downstream
        if wait_for_downstream:
            self.depends_on_past = True
        self.ignore_first_depends_on_past = bool(ignore_first_depends_on_past)
        self.params: dict[str, Any] = dict(params or {})
        self.priority_weight = int(priority_weight)
        self.weight_rule = weight_rule
        self.queue = queue or DEFAULT_QUEUE
        self.pool = pool or DEFAULT_POOL
        self.pool_slots = int(pool_slots)
        if self.pool_slots < 1:
            raise DagDefinitionError(f"task {self.task_id!r}: pool_slots must be at least 1")
        self.sla = sla
        self.execution_timeout = _as_timedelta("execution_timeout", execution_timeout)
        self.on_execute_callback = on_execute_callback
        self.on_failure_callback = on_failure_callback
        self.on_success_callback = on_success_callback
        self.on_retry_callback = on_retry_callback
        try:
            self.trigger_rule = TriggerRule.parse(trigger_rule)
        except TradewindException as exc:
            raise type(exc)(f"task {self.task_id!r}: {exc}") from None
        self.resources = resources
        self.run_as_user = run_as_user
        self.max_active_tis_per_dag = max_active_tis_per_dag or task_concurrency
        self.executor_config = executor_config or {}
        self.do_xcom_push = do_xcom_push
        self.inlets = list(inlets) if isinstance(inlets, list | tuple) else ([inlets] if inlets else [])
        self.outlets = list(outlets) if isinstance(outlets, list | tuple) else ([outlets] if outlets else [])
        self.doc_md = doc_md
        self.doc = doc or doc_json or doc_yaml or doc_rst
        #: What the UI shows for the task (Airflow 2.9+); the task id when not given.
        self.task_display_name = task_display_name or self.label
        self.on_skipped_callback = on_skipped_callback
        self._pre_execute_hook = pre_execute
        self._post_execute_hook = post_execute
        self.wait_for_past_depends_before_skipping = wait_for_past_depends_before_skipping
        self.map_index_template = map_index_template
        self.max_active_tis_per_dagrun = max_active_tis_per_dagrun
        self.executor = executor
        self.multiple_outputs = multiple_outputs
        self.logger_name = logger_name
        self.allow_nested_operators = allow_nested_operators
        warn_inert(
            "DAG" if dag is not None else "task",
            dag.dag_id if dag is not None else self.task_id,
            {
                "sla": sla,
                "email": email,
                "resources": resources,
                "run_as_user": run_as_user,
                "executor_config": executor_config,
                "executor": executor,
                "max_active_tis_per_dagrun": max_active_tis_per_dagrun,
                "wait_for_past_depends_before_skipping": wait_for_past_depends_before_skipping,
                "map_index_template": map_index_template,
            },
            TASK_ARGUMENTS,
        )
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        #: Set by ``as_setup()`` / ``as_teardown()`` (or ``@setup`` / ``@teardown``), as in Airflow 2.7+.
        self.is_setup = False
        self.is_teardown = False
        self._on_failure_fail_dagrun = False
        self._dag: DAG | None = None
        if dag is not None:
            self.dag = dag

    # -- after __init__ ------------------------------------------------------------------------

    def _after_init(self) -> None:
        """XComArgs passed into templated fields make their tasks upstream of this one."""
        for name in self.template_fields:
            for arg in find_xcom_args(getattr(self, name, None)):
                self.set_upstream(arg.operator)

    # -- DAG membership ------------------------------------------------------------------------

    @property
    def dag(self) -> DAG | None:
        return self._dag

    @dag.setter
    def dag(self, dag: DAG | None) -> None:
        if dag is None or dag is self._dag:
            return
        if self._dag is not None:
            raise TaskAlreadyInDagError(
                f"task {self.task_id!r} already belongs to DAG {self._dag.dag_id!r}; "
                f"it cannot also be added to DAG {dag.dag_id!r}"
            )
        dag.add_task(self)
        self._dag = dag
        if self.task_group is None or self.task_group.dag is not dag:
            self.task_group = dag.task_group
        self.task_group.add_child(self)

    def has_dag(self) -> bool:
        return self._dag is not None

    @property
    def dag_id(self) -> str | None:
        return self._dag.dag_id if self._dag is not None else None

    # -- dependencies --------------------------------------------------------------------------

    @property
    def roots(self) -> list[BaseOperator]:
        return [self]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [self]

    def _add_downstream(self, other: BaseOperator) -> None:
        if other is self:
            raise DagDefinitionError(f"task {self.task_id!r} cannot depend on itself")
        if self._dag is not None and other._dag is None:
            other.dag = self._dag
        elif other._dag is not None and self._dag is None:
            self.dag = other._dag
        elif self._dag is not None and other._dag is not None and self._dag is not other._dag:
            raise DagDefinitionError(
                f"tasks {self.task_id!r} (DAG {self._dag.dag_id!r}) and {other.task_id!r} "
                f"(DAG {other._dag.dag_id!r}) are in different DAGs and cannot depend on each other"
            )
        self.downstream_task_ids.add(other.task_id)
        other.upstream_task_ids.add(self.task_id)

    @property
    def upstream_list(self) -> list[BaseOperator]:
        return [self._require_dag().get_task(t) for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[BaseOperator]:
        return [self._require_dag().get_task(t) for t in sorted(self.downstream_task_ids)]

    def get_flat_relative_ids(self, *, upstream: bool = False) -> set[str]:
        """Every task id reachable downstream (or upstream) of this task."""
        dag = self._require_dag()
        seen: set[str] = set()
        stack = list(self.upstream_task_ids if upstream else self.downstream_task_ids)
        while stack:
            task_id = stack.pop()
            if task_id in seen:
                continue
            seen.add(task_id)
            task = dag.get_task(task_id)
            stack.extend(task.upstream_task_ids if upstream else task.downstream_task_ids)
        return seen

    def _require_dag(self) -> DAG:
        if self._dag is None:
            raise DagDefinitionError(f"task {self.task_id!r} is not in a DAG")
        return self._dag

    # -- setup and teardown --------------------------------------------------------------------

    @property
    def on_failure_fail_dagrun(self) -> bool:
        """Whether this teardown's failure fails the run (teardowns are otherwise left out of it)."""
        return self._on_failure_fail_dagrun

    @on_failure_fail_dagrun.setter
    def on_failure_fail_dagrun(self, value: bool) -> None:
        if value and not self.is_teardown:
            raise DagDefinitionError(
                f"Cannot set task on_failure_fail_dagrun for {self.task_id!r} because it is not a teardown task."
            )
        self._on_failure_fail_dagrun = bool(value)

    def as_setup(self) -> BaseOperator:
        """Make this a setup task: the work below it runs inside it and its teardown cleans up."""
        self.is_setup = True
        return self

    def as_teardown(self, *, setups: Any = None, on_failure_fail_dagrun: bool | None = None) -> BaseOperator:
        """Make this a teardown task (rule ``all_done_setup_success``), downstream of ``setups``
        (a task, an XComArg or a list of them), each of which becomes a setup."""
        from tradewind.sdk.setup_teardown import mark_teardown

        mark_teardown(self, setups, on_failure_fail_dagrun)
        return self

    def __enter__(self) -> Any:
        from tradewind.sdk.setup_teardown import enter_scope

        return enter_scope(self)

    def __exit__(self, *exc: object) -> None:
        from tradewind.sdk.setup_teardown import exit_scope

        exit_scope()

    # -- running -------------------------------------------------------------------------------

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """The fixed arguments of a mapped task; ``.expand(...)`` or ``.expand_kwargs(...)`` on the
        result creates it (Airflow's dynamic task mapping)."""
        from tradewind.sdk.mapped_operator import make_partial

        return make_partial(cls, kwargs)

    @property
    def output(self) -> XComArg:
        """This task's return value, as an argument for another task."""
        return XComArg(self, RETURN_VALUE_KEY)

    @property
    def log(self) -> logging.Logger:
        """The task's logger (Airflow operators log through ``self.log``); it writes to the task log.
        ``logger_name`` names it, as in Airflow 2.10."""
        return logging.getLogger(
            f"tradewind.task.operators.{getattr(self, 'logger_name', None) or type(self).__name__}"
        )

    @property
    def operator_name(self) -> str:
        return type(self).__name__

    def execute(self, context: dict[str, Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement execute()")

    def pre_execute(self, context: dict[str, Any]) -> None:
        """Called before ``execute``; override to prepare. Calls the ``pre_execute`` argument."""
        hook = getattr(self, "_pre_execute_hook", None)
        if hook is not None:
            hook(context)

    def post_execute(self, context: dict[str, Any], result: Any = None) -> None:
        """Called after ``execute`` succeeded; override to clean up. Calls the ``post_execute`` argument."""
        hook = getattr(self, "_post_execute_hook", None)
        if hook is not None:
            hook(context, result)

    def on_kill(self) -> None:
        """Called when the task is stopped from outside; override to stop subprocesses."""

    def defer(
        self,
        *,
        trigger: Any,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        timeout: timedelta | None = None,
    ) -> None:
        """Hand the worker slot back until ``trigger`` fires in a triggerer; the task then resumes
        on a worker by calling ``method_name(context, event=<payload>, **kwargs)``, in the same try.
        Past ``timeout`` (or the task's ``execution_timeout``) the task fails (Airflow's API)."""
        raise TaskDeferred(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: dict[str, Any]) -> Any:
        """Go on after a deferral: ``__fail__`` (the trigger failed or timed out) raises
        ``TaskDeferralError`` with what the triggerer said; otherwise ``next_method`` is called."""
        next_kwargs = dict(next_kwargs or {})
        if next_method == "__fail__":
            error = next_kwargs.get("error", "Unknown")
            traceback = next_kwargs.get("traceback")
            if traceback:
                self.log.error("Trigger failed:\n%s", "\n".join(traceback).rstrip())
            raise TaskDeferralError(error)
        return getattr(self, next_method)(context, **next_kwargs)

    def xcom_push(self, context: dict[str, Any], key: str, value: Any) -> None:
        context["ti"].xcom_push(key=key, value=value)

    def xcom_pull(
        self, context: dict[str, Any], task_ids: Any = None, key: str = RETURN_VALUE_KEY, **kwargs: Any
    ) -> Any:
        return context["ti"].xcom_pull(task_ids=task_ids, key=key, **kwargs)

    def skip(self, context: dict[str, Any], task_ids: Sequence[str]) -> None:
        """Mark ``task_ids`` (tasks of this run) skipped when this task ends — how branch and
        short-circuit operators prune paths."""
        context["ti"].request_skip(task_ids)

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {self.task_id}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> BaseOperator:
        # Operators are shared by reference inside a DAG; copying one would break its links.
        return self


# BaseOperator's own arguments (retries, pool…) come from default_args too.
BaseOperator.__init__ = _apply_default_args(BaseOperator.__init__)  # type: ignore[method-assign]
