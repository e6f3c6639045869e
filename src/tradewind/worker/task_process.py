"""The child process that runs one try of a task: context, templates, execute, XCom, outcome.

It runs in a forked child so a crash, a leak or a timeout ends only the child. Its stdout and
stderr are the task's log; its last act is to write the ``Outcome`` as JSON to the result socket.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tradewind.errors import AirflowTaskTimeout, TaskDeferred
from tradewind.sdk import mail
from tradewind.sdk.context import Context, RunInfo, build_context, set_current_context
from tradewind.sdk.dataset_events import emitted_events
from tradewind.sdk.params import merge_params
from tradewind.sdk.runtime import RuntimeTaskInstance, XComBackend
from tradewind.sdk.templating import render_task_fields
from tradewind.sdk.time_limit import time_limit
from tradewind.sdk.triggers.base import decode_kwargs
from tradewind.sdk.xcom import RETURN_VALUE_KEY
from tradewind.sdk.xcom_arg import resolve_xcom_args
from tradewind.secrets import masker
from tradewind.worker import outcome as outcomes
from tradewind.worker.outcome import Outcome
from tradewind.worker.try_services import handled_signals_held

LOG_FORMAT = "[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s"


@dataclass
class TryRequest:
    """Everything the child needs to run one try, read by the parent before it forks."""

    task: Any
    run: RunInfo
    try_number: int
    max_tries: int
    map_index: int
    hostname: str
    first_poke_at: datetime | None
    xcom_max_bytes: int
    #: A try resumed after a deferral calls this instead of ``execute`` (None: a fresh start).
    next_method: str | None = None
    next_kwargs: dict[str, Any] | None = None


def runtime_task_instance(request: TryRequest, xcom: XComBackend) -> RuntimeTaskInstance:
    """The ``ti`` a try's context holds."""
    ti = RuntimeTaskInstance(
        task=request.task,
        dag_id=request.run.dag_id,
        run_id=request.run.run_id,
        try_number=request.try_number,
        max_tries=request.max_tries,
        xcom=xcom,
        map_index=request.map_index,
        xcom_max_bytes=request.xcom_max_bytes,
        hostname=request.hostname,
        start_date=datetime.now(UTC),
        logical_date=request.run.logical_date,
    )
    ti.first_poke_at = request.first_poke_at  # type: ignore[attr-defined]
    return ti


def task_and_context(request: TryRequest, ti: RuntimeTaskInstance) -> tuple[Any, Context]:
    """The operator a try runs and its context: params merged with the run's conf, and a mapped task
    instance's own operator, built from its element. Raises what the params or the mapping raise."""
    task = request.task
    params = merge_params(task.dag.params if task.dag else {}, task.params, request.run.conf)
    context = build_context(dag=task.dag, task=task, run=request.run, ti=ti, params=params)
    if hasattr(task, "unmap_for"):
        task = task.unmap_for(context)
        ti.task = context["task"] = task
    return task, context


def run_try(request: TryRequest, xcom: XComBackend, on_rendered: Any, clear_own_xcom: Any) -> Outcome:
    """Run one try in this process and return how it ended (never raises)."""
    task = request.task
    ti = runtime_task_instance(request, xcom)
    log = logging.getLogger("tradewind.task")
    _stop_on_sigterm(task)
    # The run's conf reaches the task as it is, but values under its secret-looking keys never
    # show in the task's log, its rendered fields or the display copy of its XCom.
    masker.mask_secret(request.run.conf)
    try:
        task, context = task_and_context(request, ti)
        if task is not request.task:
            _stop_on_sigterm(task)
        clear_own_xcom()
        with set_current_context(context), _execution_timeout(task):
            rendered = render_task_fields(task, context)
            for name in task.template_fields:
                setattr(task, name, resolve_xcom_args(getattr(task, name, None), context))
            # What the UI shows as the rendered template: secrets the rendering fetched are masked.
            on_rendered(masker.redact_value(rendered))
            task.pre_execute(context)
            _callback(task, "on_execute_callback", context)
            log.info("Running %s, try %s of %s", task.task_id, request.try_number, request.max_tries + 1)
            if request.next_method is not None:
                log.info("Resuming after deferral: %s", request.next_method)
                result = task.resume_execution(request.next_method, decode_kwargs(request.next_kwargs), context)
            else:
                result = task.execute(context)
            if task.do_xcom_push and result is not None:
                ti.xcom_push(RETURN_VALUE_KEY, result)
            task.post_execute(context, result)
            events = emitted_events(task.outlets, context["outlet_events"])
            # An extra that cannot be stored fails the try here, with the task's own traceback.
            json.dumps(events)
        outcome = outcomes.success(sorted(ti.skip_requests), _first_poke(ti), events)
        log.info("Marking task as SUCCESS.")
        _callback(task, "on_success_callback", context)
        return outcome
    except TaskDeferred as deferral:
        return _deferred(log, deferral, task, request, ti)
    except BaseException as exc:  # noqa: BLE001 - a task may raise anything; it must end in a state
        if isinstance(exc, AirflowTaskTimeout):
            _safe(task.on_kill)
        outcome = outcomes.from_exception(
            exc,
            task=task,
            try_number=request.try_number,
            max_tries=request.max_tries,
            now=datetime.now(UTC),
            first_poke_at=_first_poke(ti),
        )
        _log_end(log, exc, outcome)
        if locals().get("context") is not None:
            context["exception"] = exc  # as in Airflow, failure and retry callbacks see the error
        if outcome.state == "failed":
            _callback(task, "on_failure_callback", locals().get("context"))
        elif outcome.state == "up_for_retry":
            _callback(task, "on_retry_callback", locals().get("context"))
        elif outcome.state == "skipped":
            _callback(task, "on_skipped_callback", locals().get("context"))
        _email_alert(task, request, str(outcome.state), exc)
        # A branch that failed prunes nothing.
        outcome.skip_task_ids = sorted(ti.skip_requests) if outcome.state == "skipped" else []
        return outcome


def _deferred(log: logging.Logger, deferral: TaskDeferred, task: Any, request: TryRequest, ti: Any) -> Outcome:
    """The try hands its slot back until its trigger fires; a trigger that cannot be stored (its
    kwargs are not JSON) fails the try like any error."""
    now = datetime.now(UTC)
    try:
        outcome = outcomes.deferred(deferral, now=now, started=ti.start_date, execution_timeout=task.execution_timeout)
    except Exception as exc:  # noqa: BLE001 - a bad trigger is the task's error
        outcome = outcomes.from_exception(
            exc, task=task, try_number=request.try_number, max_tries=request.max_tries, now=now
        )
        _log_end(log, exc, outcome)
        return outcome
    log.info("Pausing task as DEFERRED (trigger %s, resuming with %s).", deferral.trigger, deferral.method_name)
    return outcome


def _stop_on_sigterm(task: Any) -> None:
    """When the worker stops this try (cleared or marked from outside, or past its hard time
    limit) the task's own ``on_kill`` runs first, so a subprocess it started dies with it."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_term(signum: int, frame: Any) -> None:
        logging.getLogger("tradewind.task").warning("Received SIGTERM: stopping the task")
        _safe(task.on_kill)
        sys.stdout.flush()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)


def _first_poke(ti: Any) -> datetime | None:
    return getattr(ti, "first_poke_at", None)


def _log_end(log: logging.Logger, exc: BaseException, outcome: Outcome) -> None:
    if outcome.state == "skipped":
        log.info("Marking task as SKIPPED. %s", outcome.error or "")
    elif outcome.state == "up_for_reschedule":
        log.info("Rescheduling task; next poke at %s", outcome.next_poke_at)
    else:
        log.error("Task failed with exception\n%s", "".join(traceback.format_exception(exc)).rstrip())
        log.info("Marking task as %s.", str(outcome.state).upper())


def _callback(task: Any, name: str, context: Any) -> None:
    callback = getattr(task, name, None)
    if not callback or context is None:
        return
    callbacks = callback if isinstance(callback, list | tuple) else [callback]
    for fn in callbacks:
        try:
            fn(context)
        except Exception:  # noqa: BLE001 - a broken callback must not change the task's state
            logging.getLogger("tradewind.task").exception("%s of %s failed", name, task.task_id)


def _email_alert(task: Any, request: TryRequest, state: str, exc: BaseException) -> None:
    """Mail the task's ``email`` addresses when it failed (``email_on_failure``) or will be retried
    (``email_on_retry``), as Airflow does; a mail that cannot be sent is logged, the state stays."""
    wanted = {"failed": "email_on_failure", "up_for_retry": "email_on_retry"}.get(state)
    if not wanted or not getattr(task, "email", None) or not getattr(task, wanted, False):
        return
    subject, body = mail.task_alert(
        dag_id=request.run.dag_id,
        task_id=task.task_id,
        run_id=request.run.run_id,
        state=state,
        try_number=request.try_number,
        max_tries=request.max_tries,
        host=request.hostname,
        error="".join(traceback.format_exception_only(exc)).strip(),
    )
    try:
        mail.send_email(task.email, subject, body)
    except Exception:  # noqa: BLE001 - an alert that cannot be sent must not change the task's state
        logging.getLogger("tradewind.task").exception("Failed to send the %s email to %s", state, task.email)
    else:
        logging.getLogger("tradewind.task").info("Sent the %s email to %s", state, task.email)


def _safe(fn: Any) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001
        logging.getLogger("tradewind.task").exception("on_kill failed")


def _execution_timeout(task: Any) -> Any:
    timeout = task.execution_timeout
    seconds = timeout.total_seconds() if timeout is not None else None
    return time_limit(
        seconds, lambda: AirflowTaskTimeout(f"Timeout, PID: {os.getpid()}; execution_timeout of {seconds:g} s exceeded")
    )


class ResultChannel:
    """The child's side of the result socket: one JSON object per line — its rendered fields, each
    XCom it pushes (with its display copy when something in it is secret), and last its outcome.
    The worker writes them to the metastore. A task process forked from the worker's fork server
    also asks its worker for what it reads (``try_services.py``): a ``call`` line, whose answer
    comes back on the same socket, so it needs no database connection of its own."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.RLock()
        self._lock_pid = os.getpid()
        self._file = os.fdopen(fd, "w", buffering=1)

    @property
    def lock(self) -> threading.RLock:
        """Held while a line is written. A process the task forked gets a lock of its own: a thread
        that held this one at the fork is not in it."""
        if self._lock_pid != os.getpid():
            self._lock, self._lock_pid = threading.RLock(), os.getpid()
        return self._lock

    def send(self, kind: str, value: Any) -> None:
        self.send_encoded(kind, json.dumps(value))

    def send_encoded(self, kind: str, value_json: str) -> None:
        """Send ``value_json`` (already JSON) as the report ``kind``: one whole line, whatever signal
        comes meanwhile (this thread holds them while it writes, which the worker always reads, so a
        time limit's exception never leaves half a line for the next one to be glued to)."""
        line = f"{{{json.dumps(kind)}: {value_json}}}\n"
        with self.lock, handled_signals_held():
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self.lock:
            self._file.close()


class ChildXComBackend:
    """XCom inside the task's process: pushes go to the worker through the result socket (written
    together with the try's final state); pulls read this try's own pushes first, then what the
    reader gives (the worker's answers, ``try_services.py``, or the metastore)."""

    def __init__(self, channel: ResultChannel, reader: Any) -> None:
        self._channel = channel
        self._reader = reader
        self._own: dict[str, Any] = {}
        self.task_id: str | None = None

    def push(self, key: str, value_json: str) -> None:
        value = json.loads(value_json)
        self._own[key] = value
        # Only this process knows which secrets it fetched: it sends what people may see beside the value.
        shown = masker.display_copy(value, key)
        self._channel.send("xcom", [key, value] if shown is None else [key, value, shown])

    def pull(self, task_id: str | None, key: str, map_index: int | None) -> tuple[bool, Any]:
        if task_id == self.task_id and key in self._own:
            return True, self._own[key]
        return self._reader.pull(task_id, key, map_index)

    def pull_mapped(self, task_id: str, key: str) -> list[Any]:
        return self._reader.pull_mapped(task_id, key)


def child_main(
    request: TryRequest | Callable[[], TryRequest | None],
    log_fd: int,
    result_fd: int,
    reader_for: Callable[[ResultChannel], Any],
) -> None:
    """Entry point of the forked child: route output to the log pipe, run, report, exit.
    ``request`` may be a function that waits for the try, in a process made ready before its try
    was asked for: it is called once the output is routed, and None from it means the try is not
    to start (the process exits, having run nothing of it). ``reader_for(channel)`` gives what the
    task's XCom pulls read (``ChildXComBackend``)."""
    code = 0
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
        # The task's log never shows a secret the task fetched (a password, a secret variable).
        masker.mask_standard_streams()
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        masker.mask_handler(handler)
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        the_try = request() if callable(request) else request
        if the_try is None:
            return
        channel = ResultChannel(result_fd)
        xcom = ChildXComBackend(channel, reader_for(channel))
        xcom.task_id = the_try.task.task_id
        outcome = run_try(the_try, xcom, lambda rendered: channel.send("rendered", rendered), lambda: None)
        channel.send("outcome", outcome.to_json())
        channel.close()
    except BaseException:  # noqa: BLE001 - the parent treats a silent child as crashed
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)


def warm_up() -> None:
    """Import, in the long-lived worker process, what every task's process would otherwise import
    again after each fork (Jinja's extensions and sandbox, JSON Schema validators)."""
    from tradewind.sdk.params import Param
    from tradewind.sdk.templating import make_environment

    make_environment(None).from_string("{{ 1 }}").render()
    Param(1, type="integer").resolve()
