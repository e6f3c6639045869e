"""``BashOperator``: run a Bash command in its own process group and return its last output line.

Behaviour follows Airflow 2: the command's stdout and stderr go to the task log line by line, the
last line is the return value (so it becomes the ``return_value`` XCom), exit code 99 (by default)
skips the task and any other non-zero exit code fails it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Container, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

from tradewind.errors import AirflowException, AirflowSkipException
from tradewind.sdk.baseoperator import BaseOperator

log = logging.getLogger("tradewind.task.operators")

#: Seconds ``on_kill`` waits after SIGTERM before it sends SIGKILL.
KILL_GRACE_SECONDS = 5.0


class BashOperator(BaseOperator):
    """Run ``bash -c <bash_command>``; a command ending in ``.sh``/``.bash`` is a template file."""

    template_fields: ClassVar[tuple[str, ...]] = ("bash_command", "env", "cwd")
    template_fields_renderers: ClassVar[dict[str, str]] = {"bash_command": "bash", "env": "json"}
    template_ext: ClassVar[tuple[str, ...]] = (".sh", ".bash")
    ui_color: ClassVar[str] = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: Any,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_exit_code: int | None = None,
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        output_processor: Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        if skip_exit_code is not None:
            # Airflow's name before 2.6; it still wins over the new one, as there.
            skip_on_exit_code = skip_exit_code
        self.skip_on_exit_code: Container[int] = as_exit_codes(skip_on_exit_code)
        self.cwd = cwd
        #: Airflow 2.10's hook to turn the last output line into the return value.
        self.output_processor = output_processor
        self._process = BashProcess(output_encoding)

    # -- environment ---------------------------------------------------------------------------

    def get_env(self, context: Mapping[str, Any]) -> dict[str, str]:
        """The command's environment: ``env`` (replacing or, with ``append_env``, merged over
        ``os.environ``) plus Airflow's ``AIRFLOW_CTX_*`` variables."""
        if self.env is None:
            env = dict(os.environ)
        elif self.append_env:
            env = {**os.environ, **self.env}
        else:
            env = dict(self.env)
        env.update(context_to_env_vars(context))
        return env

    # -- running -------------------------------------------------------------------------------

    def execute(self, context: dict[str, Any]) -> Any:
        if not isinstance(self.bash_command, str) or not self.bash_command.strip():
            raise AirflowException(
                f"task {self.task_id!r}: bash_command must be a non-empty string, got {self.bash_command!r}"
            )
        self._check_cwd()
        env = self.get_env(context)
        with working_directory(self.cwd) as cwd:
            exit_code, last_line = self._run(
                [shutil.which("bash") or "bash", "-c", self.bash_command], env=env, cwd=cwd
            )
        if exit_code in self.skip_on_exit_code:
            raise AirflowSkipException(f"Bash command returned exit code {exit_code}. Skipping.")
        if exit_code != 0:
            raise AirflowException(f"Bash command failed. The command returned a non-zero exit code {exit_code}.")
        return self.output_processor(last_line) if self.output_processor else last_line

    def _check_cwd(self) -> None:
        if self.cwd is None:
            return
        if not os.path.exists(self.cwd):
            raise AirflowException(f"Can not find the cwd: {self.cwd}")
        if not os.path.isdir(self.cwd):
            raise AirflowException(f"The cwd {self.cwd} must be a directory")

    def _run(self, command: list[str], *, env: dict[str, str], cwd: str) -> tuple[int, str]:
        return self._process.run(command, env=env, cwd=cwd)

    def on_kill(self) -> None:
        """Stop the command and every process it started: SIGTERM, then SIGKILL after a grace."""
        self._process.kill()


class BashProcess:
    """One Bash command at a time, in a session of its own, its output streamed to the task log;
    what ``BashOperator`` and ``BashSensor`` run their commands with."""

    def __init__(self, output_encoding: str = "utf-8") -> None:
        self.output_encoding = output_encoding
        self._popen: subprocess.Popen[bytes] | None = None

    def run(self, command: list[str], *, env: dict[str, str], cwd: str) -> tuple[int, str]:
        """Run ``command`` to its end; its exit code and its last output line."""
        log.info("Running command: %s", command)
        # A new session makes the command and everything it starts one process group, so on_kill
        # can stop them all; restore_signals gives the child default SIGPIPE handling.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            restore_signals=True,
        )
        self._popen = process
        line = ""
        assert process.stdout is not None
        try:
            for raw in iter(process.stdout.readline, b""):
                line = raw.decode(self.output_encoding, errors="backslashreplace").rstrip()
                print(line, file=sys.stdout, flush=True)
            process.wait()
        except BaseException:
            # An execution_timeout (SIGALRM) lands here mid-read. The finally below forgets the
            # process before the caller's on_kill runs, and the command's own session is out of
            # reach of the worker's kill, so stop it now or it outlives the task.
            self.kill()
            raise
        finally:
            process.stdout.close()
            self._popen = None
        log.info("Command exited with return code %s", process.returncode)
        return process.returncode, line

    def kill(self) -> None:
        """SIGTERM to the running command's process group, SIGKILL after a grace."""
        process = self._popen
        if process is None or process.poll() is not None:
            return
        log.info("Sending SIGTERM to process group %s", process.pid)
        if not _signal_group(process.pid, signal.SIGTERM):
            return
        try:
            process.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            log.info("Process group %s still running; sending SIGKILL", process.pid)
            _signal_group(process.pid, signal.SIGKILL)


def as_exit_codes(value: int | Container[int] | None) -> Container[int]:
    """``skip_on_exit_code`` as a container of codes (one code, several, or none)."""
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return value


def _signal_group(pid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(os.getpgid(pid), sig)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def working_directory(cwd: str | None) -> Iterator[str]:
    """``cwd`` itself, or a fresh temporary directory removed afterwards (Airflow's behaviour)."""
    if cwd is not None:
        yield cwd
        return
    with tempfile.TemporaryDirectory(prefix="tradewindtmp") as tmp:
        yield tmp


def context_to_env_vars(context: Mapping[str, Any]) -> dict[str, str]:
    """Airflow's ``AIRFLOW_CTX_*`` variables for the task try in ``context``, where known."""
    task = context.get("task")
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    values = {
        "AIRFLOW_CTX_DAG_EMAIL": getattr(task, "email", None),
        "AIRFLOW_CTX_DAG_OWNER": getattr(task, "owner", None),
        "AIRFLOW_CTX_DAG_ID": getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None),
        "AIRFLOW_CTX_TASK_ID": getattr(ti, "task_id", None) or getattr(task, "task_id", None),
        "AIRFLOW_CTX_EXECUTION_DATE": getattr(ti, "execution_date", None) or context.get("logical_date"),
        "AIRFLOW_CTX_TRY_NUMBER": getattr(ti, "try_number", None),
        "AIRFLOW_CTX_DAG_RUN_ID": (
            getattr(dag_run, "run_id", None) or context.get("run_id") or getattr(ti, "run_id", None)
        ),
    }
    return {name: _env_text(value) for name, value in values.items() if value}


def _env_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
