"""The child process that runs a DAG's ``on_success_callback`` / ``on_failure_callback`` for one
end of a run — or a task's ``on_failure_callback`` / ``on_retry_callback`` for a try whose process
died (a zombie) — : import the DAG file, build Airflow's callback context, call each callback.

It runs forked from the scheduler, so user code never runs in the scheduler itself; it opens its
own connection to the metastore (the context's ``ti`` pulls XCom, ``Variable.get`` works), keeps
to a time limit, logs each callback's failure with its traceback, and sends back one JSON line.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import signal
import sys
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from tradewind.decisions.run_ends import RunEnd, ZombieEnd
from tradewind.errors import AirflowTaskTimeout
from tradewind.sdk.context import DagRunView

logger = logging.getLogger("tradewind.dag_callbacks")


@dataclass(frozen=True)
class CallbackResult:
    """How the callbacks of one run end went: ``success``, ``error``, ``skipped`` (none to call)."""

    outcome: str
    message: str = ""


@dataclass(frozen=True)
class EndedDagRun(DagRunView):
    """``context["dag_run"]`` in a DAG callback: the run as it ended."""

    state: str = ""
    end_date: datetime | None = None


@contextlib.contextmanager
def _bound_metastore(settings: Any) -> Iterator[Any]:
    """A session factory of this child's own, installed for task code (``Variable.get``, XCom pulls)."""
    from tradewind.metastore.engine import create_engine_from_settings, make_session_factory
    from tradewind.sdk import runtime_services
    from tradewind.task_services import MetastoreServices

    engine = create_engine_from_settings(settings)
    factory = make_session_factory(engine)
    try:
        with runtime_services.using(MetastoreServices(settings, factory)):
            yield factory
    finally:
        engine.dispose()


def _import_dag(factory: Any, settings: Any, dag_id: str) -> tuple[Any | None, str]:
    """(the live DAG, "") from the file the metastore names, or (None, why it is not there)."""
    from tradewind.metastore import dags
    from tradewind.metastore.engine import session_scope
    from tradewind.sdk.dag_file import load_dag_file

    with session_scope(factory) as session:
        fileloc = dags.get_fileloc(session, dag_id)
    if not fileloc:
        return None, f"DAG {dag_id} has no file any more"
    loaded = load_dag_file(fileloc, timeout=None, dags_folder=str(settings.resolved_dags_folder))
    dag = next((d for d in loaded.dags if d.dag_id == dag_id), None)
    if dag is None:
        return None, f"{fileloc} no longer defines DAG {dag_id}: {loaded.error or ''}"
    return dag, ""


def run_callbacks(end: RunEnd, settings: Any, timeout: float) -> CallbackResult:
    """Import the DAG and call its callbacks for ``end`` (in this process, within ``timeout``)."""
    from tradewind.sdk.time_limit import time_limit

    with (
        _bound_metastore(settings) as factory,
        time_limit(
            timeout,
            lambda: AirflowTaskTimeout(f"the {end.callback_name} of DAG {end.dag_id} took longer than {timeout:g} s"),
        ),
    ):
        dag, missing = _import_dag(factory, settings, end.dag_id)
        if dag is None:
            return CallbackResult("skipped", missing)
        return call_dag_callbacks(dag, end, factory)


def run_zombie_callbacks(end: ZombieEnd, settings: Any, timeout: float) -> CallbackResult:
    """Import the DAG and call the task's callbacks for a zombie's try; what they log goes to that
    try's log too."""
    from tradewind.metastore import logs
    from tradewind.metastore.engine import session_scope
    from tradewind.metastore.task_instances import TIKey
    from tradewind.sdk.time_limit import time_limit

    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s"))
    with _bound_metastore(settings) as factory:
        logging.getLogger().addHandler(handler)
        try:
            with time_limit(
                timeout,
                lambda: AirflowTaskTimeout(
                    f"the {end.callback_name} of {end.dag_id}.{end.task_id} took longer than {timeout:g} s"
                ),
            ):
                dag, missing = _import_dag(factory, settings, end.dag_id)
                if dag is None:
                    return CallbackResult("skipped", missing)
                if not dag.has_task(end.task_id):
                    return CallbackResult("skipped", f"DAG {end.dag_id} no longer has task {end.task_id}")
                # What the callbacks print goes to the try's log too, as it would in the task's process.
                with contextlib.redirect_stdout(_Tee(captured, sys.stdout)):
                    return _call_task_callbacks(dag, dag.get_task(end.task_id), end, factory)
        finally:
            logging.getLogger().removeHandler(handler)
            text = captured.getvalue()
            if text:
                with session_scope(factory) as session:
                    logs.append_log(
                        session, TIKey(end.dag_id, end.run_id, end.task_id, end.map_index), end.try_number, text
                    )


class _Tee(io.TextIOBase):
    """Writes to two streams."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second

    def write(self, text: str) -> int:
        self.first.write(text)
        self.second.write(text)
        return len(text)

    def flush(self) -> None:
        self.second.flush()


def _call_task_callbacks(dag: Any, task: Any, end: ZombieEnd, factory: Any) -> CallbackResult:
    from tradewind.metastore import runs, task_instances
    from tradewind.metastore.engine import session_scope

    callbacks = getattr(task, end.callback_name, None)
    if not callbacks:
        return CallbackResult("skipped", f"{end.dag_id}.{end.task_id} has no {end.callback_name} any more")
    with session_scope(factory) as session:
        run = runs.get_run(session, end.dag_id, end.run_id)
        row = task_instances.get_ti(session, end.dag_id, end.run_id, end.task_id, end.map_index)
        session.expunge_all()
    context = callback_context(dag, run, [row] if row is not None else [], end.reason, factory)
    if context["ti"] is not None:
        context["ti"].try_number = end.try_number
        context["try_number"] = end.try_number
    context["exception"] = end.reason
    logger.info("Executing %s of %s for try %s: %s", end.callback_name, end.task_id, end.try_number, end.reason)
    return _call_each(callbacks, context, f"{end.callback_name} of {end.task_id}")


def call_dag_callbacks(dag: Any, end: RunEnd, factory: Any) -> CallbackResult:
    """Call the callbacks of the live ``dag`` for ``end``: each one's exception is logged, never raised
    (a time limit's ``AirflowTaskTimeout`` aside)."""
    from tradewind.metastore import runs, task_instances
    from tradewind.metastore.engine import session_scope

    callbacks = getattr(dag, end.callback_name, None)
    if not callbacks:
        return CallbackResult("skipped", f"DAG {end.dag_id} has no {end.callback_name} any more")
    with session_scope(factory) as session:
        run = runs.get_run(session, end.dag_id, end.run_id)
        tis = [t for t in task_instances.get_tis(session, end.dag_id, end.run_id) if t.state != "removed"]
        session.expunge_all()
    context = callback_context(dag, run, tis, end.reason, factory)
    return _call_each(callbacks, context, f"dag state update callback of {end.dag_id}")


def _call_each(callbacks: Any, context: dict[str, Any], what: str) -> CallbackResult:
    failures = []
    for callback in callbacks if isinstance(callbacks, list | tuple) else [callbacks]:
        logger.info("Executing callback function: %s", getattr(callback, "__qualname__", callback))
        try:
            callback(context)
        except AirflowTaskTimeout:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken callback changes no state
            logger.exception("failed to invoke %s", what)
            failures.append(f"{type(exc).__name__}: {exc}")
    if failures:
        return CallbackResult("error", "; ".join(failures))
    return CallbackResult("success")


def callback_context(dag: Any, run: Any, tis: list[Any], reason: str, factory: Any) -> dict[str, Any]:
    """Airflow's DAG-callback context: the template context of the run's last task instance, plus
    ``reason``."""
    from tradewind.sdk.context import RunInfo, build_context
    from tradewind.sdk.params import merge_params
    from tradewind.sdk.runtime import RuntimeTaskInstance

    def aware(value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def aware_or_none(value: datetime | None) -> datetime | None:
        return None if value is None else aware(value)

    info = RunInfo(
        dag_id=run.dag_id,
        run_id=run.run_id,
        run_type=run.run_type,
        logical_date=aware(run.logical_date),
        data_interval_start=aware_or_none(run.data_interval_start),
        data_interval_end=aware_or_none(run.data_interval_end),
        conf=dict(run.conf or {}),
        start_date=aware_or_none(run.start_date),
        external_trigger=bool(run.external_trigger),
    )
    known = [t for t in tis if dag.has_task(t.task_id)]
    last = known[-1] if known else None
    task = dag.get_task(last.task_id) if last is not None else (dag.tasks[-1] if dag.tasks else None)
    ti = None
    if task is not None:
        ti = RuntimeTaskInstance(
            task=task,
            dag_id=run.dag_id,
            run_id=run.run_id,
            try_number=last.try_number if last else 0,
            max_tries=last.max_tries if last else 0,
            xcom=_RunXComReader(factory, run.dag_id, run.run_id),
            map_index=last.map_index if last else -1,
            logical_date=info.logical_date,
        )
        ti.state = last.state if last else "none"
    params = merge_params(dag.params, getattr(task, "params", {}) or {}, info.conf)
    context = build_context(dag=dag, task=task, run=info, ti=ti, params=params)
    view = context["dag_run"]
    context["dag_run"] = EndedDagRun(
        **{f.name: getattr(view, f.name) for f in fields(view)}, state=run.state, end_date=aware_or_none(run.end_date)
    )
    context["reason"] = reason
    return context


class _RunXComReader:
    """XCom of the run, read-only: a DAG callback may pull what its tasks pushed."""

    def __init__(self, factory: Any, dag_id: str, run_id: str) -> None:
        self.factory, self.dag_id, self.run_id = factory, dag_id, run_id

    def push(self, key: str, value_json: str) -> None:
        raise RuntimeError("a DAG callback cannot push XCom: its run has ended")

    def pull(self, task_id: str | None, key: str, map_index: int | None) -> tuple[bool, Any]:
        from tradewind.metastore import xcoms
        from tradewind.metastore.engine import session_scope

        if task_id is None:
            return False, None
        with session_scope(self.factory) as session:
            return xcoms.find_xcom(
                session, self.dag_id, self.run_id, task_id, key, map_index=-1 if map_index is None else map_index
            )

    def pull_mapped(self, task_id: str, key: str) -> list[Any]:
        from tradewind.metastore import xcoms
        from tradewind.metastore.engine import session_scope

        with session_scope(self.factory) as session:
            value = xcoms.get_xcoms_for_tasks(session, self.dag_id, self.run_id, [task_id], key).get(task_id)
        return value if isinstance(value, list) else []


def child_main(end: RunEnd | ZombieEnd, settings: Any, timeout: float, conn: Any) -> None:
    """Entry point of the forked child: run the callbacks, send the result as JSON, exit."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        if isinstance(end, ZombieEnd):
            result = run_zombie_callbacks(end, settings, timeout)
        else:
            result = run_callbacks(end, settings, timeout)
    except AirflowTaskTimeout as exc:
        result = CallbackResult("timeout", str(exc))
    except BaseException as exc:  # noqa: BLE001 - whatever happens is reported, never raised
        logger.error(
            "the %s of DAG %s could not run:\n%s",
            end.callback_name,
            end.dag_id,
            "".join(traceback.format_exception(exc)).rstrip(),
        )
        result = CallbackResult("error", f"{type(exc).__name__}: {exc}")
    conn.send_bytes(json.dumps(asdict(result)).encode())
    conn.close()
